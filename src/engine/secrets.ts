/**
 * Which attributes hold secrets (passwords, unicodePwd), so that no value of theirs is ever rendered: not in
 * the provisioning log, plans, explain, apply digests or error messages.
 *
 * The source of truth is the connector schema's `secret: true`. A metaverse attribute is secret when an
 * inbound flow fills it from a secret source attribute, or an outbound flow carries it into a secret target
 * attribute, whatever it is called (`initialCode` fed from SCIM's `password` is a secret). Names that carry
 * credentials in every directory we know (password, pwd, token…) are secret even when no schema says so,
 * because a connector that cannot tell its schema must not leak them.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { LoadedConfig } from '../config/model.js';
import type { ConnectorSchema } from '../connectors/contract.js';
import { type Attributes, isReference, type Value } from '../core/values.js';
import type { Store } from '../store/types.js';
import { isSecretAttribute } from './safety.js';

export const REDACTED = '[redacted]';

const FINGERPRINT_KEY = 'secret-fingerprint-key';
/** Password attributes by name, lower-cased: SCIM and the directory, LDAP, Active Directory. */
const CREDENTIAL_NAMES = new Set(['password', 'userpassword', 'unicodepwd']);
const FINGERPRINT_PREFIX = '{idsync-hmac}';

export function isFingerprint(value: Value): boolean {
  return typeof value === 'string' && value.startsWith(FINGERPRINT_PREFIX);
}

/**
 * Whether an object's stored attributes (their JSON) can hold a fingerprint. When not, `atRest` needs no
 * `before`, and a re-import of 100,000 rows need not decode the 100,000 stored ones.
 */
export function mayHoldFingerprint(json: string): boolean {
  return json.includes(FINGERPRINT_PREFIX);
}

/** Shorter values would hide ordinary words in a message; the same floor as core/redact. */
const MIN_SCRUB_LENGTH = 4;

export class SecretAttributes {
  private readonly byConnector = new Map<string, Set<string>>();
  private metaverse: Set<string> | undefined;

  constructor(
    private readonly config: LoadedConfig,
    private readonly schema: (connector: string) => ConnectorSchema | undefined,
  ) {}

  /**
   * Verdicts asked before, by connector, then object type, then attribute: every attribute of every exported
   * object asks, 100,000 times per attribute, and nested maps spare building a joined key string each time.
   */
  private readonly secretVerdicts = new Map<string, Map<string, Map<string, boolean>>>();
  private readonly credentialVerdicts = new Map<string, Map<string, Map<string, boolean>>>();
  /** whether an import keeps the attribute's values as they are (atRest) */
  private readonly keptVerdicts = new Map<string, Map<string, Map<string, boolean>>>();

  /** Whether `attribute` of the connector's `objectType` holds a secret. */
  inConnector(connector: string, objectType: string, attribute: string): boolean {
    return this.remembered(this.secretVerdicts, connector, objectType, attribute, () =>
      isSecretAttribute(attribute, this.declared(connector, objectType).has(attribute.toLowerCase())),
    );
  }

  /**
   * Whether the connector space keeps only a fingerprint of the attribute, and idsync never clears it: the
   * attributes a schema declares secret, and the password attributes of every directory we know. Narrower
   * than `inConnector`, whose name patterns (…token…, …pass…) only hide values from output: tokenGroups or
   * passportNumber must still be compared and cleared as ordinary values.
   */
  isCredential(connector: string, objectType: string, attribute: string): boolean {
    return this.remembered(this.credentialVerdicts, connector, objectType, attribute, () => {
      const lower = attribute.toLowerCase();
      return this.declared(connector, objectType).has(lower) || CREDENTIAL_NAMES.has(lower);
    });
  }

  private remembered(
    verdicts: Map<string, Map<string, Map<string, boolean>>>,
    connector: string,
    objectType: string,
    attribute: string,
    decide: () => boolean,
  ): boolean {
    const known = verdicts.get(connector)?.get(objectType)?.get(attribute);
    if (known !== undefined) return known;
    const verdict = decide();
    // as in declared(): a verdict made without the connector's schema is made again once it is known
    if (this.schema(connector)) {
      let types = verdicts.get(connector);
      if (!types) {
        types = new Map();
        verdicts.set(connector, types);
      }
      let attributes = types.get(objectType);
      if (!attributes) {
        attributes = new Map();
        types.set(objectType, attributes);
      }
      attributes.set(attribute, verdict);
    }
    return verdict;
  }

  /** Whether the metaverse attribute holds a secret. */
  inMetaverse(attribute: string): boolean {
    this.metaverse ??= this.metaverseSecrets();
    return isSecretAttribute(attribute, this.metaverse.has(attribute.toLowerCase()));
  }

  /** The text of every secret value of a connector object: what a message must not contain. */
  valuesInConnector(connector: string, objectType: string, attributes: Attributes): string[] {
    return secretTexts(attributes, (a) => this.inConnector(connector, objectType, a));
  }

  valuesInMetaverse(attributes: Attributes): string[] {
    return secretTexts(attributes, (a) => this.inMetaverse(a));
  }

  /**
   * What the engine keeps of a secret it exported, in the target's connector space: a keyed fingerprint,
   * enough to tell "already sent" from "changed" without holding the value. The key is random per state
   * database (its meta table), so a fingerprint cannot be matched against a list of common passwords
   * without that database.
   */
  async fingerprinter(store: Store): Promise<(value: Value) => Value> {
    if (!this.fingerprintKey) {
      let key = await store.getMeta(FINGERPRINT_KEY);
      if (!key) {
        key = randomBytes(32).toString('hex');
        await store.setMeta(FINGERPRINT_KEY, key);
      }
      this.fingerprintKey = key;
    }
    const key = this.fingerprintKey;
    // References are not secrets' values: kept as they are, so they stay references.
    return (value) => (isReference(value) ? value : `${FINGERPRINT_PREFIX}${createHmac('sha256', key).update(valueText(value) ?? '').digest('base64')}`);
  }

  private fingerprintKey: string | undefined;

  /**
   * How an import stores a connector's objects: secret values as fingerprints, except the ones an inbound
   * rule reads from this connector (a gateway's password on its way to a target), which rules need clear.
   * Where the connector space already holds a fingerprint (of what idsync sent), it stands: a target reports
   * a password it was sent in its own form ({SSHA}, a scrypt hash) or not at all, so what it reports is not
   * comparable with the source's value, and a password changed in the target itself is not idsync's to undo.
   */
  async atRest(
    store: Store,
    connector: string,
  ): Promise<(objectType: string, attributes: Attributes, before?: Attributes) => Attributes> {
    const fingerprint = await this.fingerprinter(store);
    // asked for every attribute of every imported object
    const keep = (objectType: string, attribute: string): boolean =>
      this.remembered(this.keptVerdicts, connector, objectType, attribute, () =>
        !this.isCredential(connector, objectType, attribute) || this.readByInbound(connector, objectType, attribute),
      );
    return (objectType, attributes, before) => {
      let out: Attributes | undefined;
      for (const [name, values] of Object.entries(attributes)) {
        if (keep(objectType, name) || values.every(isFingerprint)) continue;
        out ??= { ...attributes };
        const sent = before?.[name];
        out[name] = sent && sent.length > 0 && sent.every(isFingerprint) ? sent : values.map((v) => (isFingerprint(v) ? v : fingerprint(v)));
      }
      // A write-only secret the target does not report (unicodePwd) keeps its fingerprint too.
      for (const [name, sent] of Object.entries(before ?? {})) {
        if (name in attributes || sent.length === 0 || !sent.every(isFingerprint) || keep(objectType, name)) continue;
        out ??= { ...attributes };
        out[name] = sent;
      }
      return out ?? attributes;
    };
  }

  private readByInbound(connector: string, objectType: string, attribute: string): boolean {
    const lower = attribute.toLowerCase();
    return this.config.inbound.some(
      (r) =>
        r.connector === connector &&
        r.objectType === objectType &&
        (r.flows.some((f) => (f.reads ?? []).some((a) => a.toLowerCase() === lower)) ||
          r.scope.attributes.some((a) => a.toLowerCase() === lower) ||
          r.join.some((g) => g.some((c) => c.attribute.toLowerCase() === lower))),
    );
  }

  private declared(connector: string, objectType: string): Set<string> {
    const key = `${connector}\0${objectType}`;
    let set = this.byConnector.get(key);
    if (!set) {
      set = new Set();
      const attributes = this.schema(connector)?.objectTypes[objectType]?.attributes ?? {};
      for (const [name, def] of Object.entries(attributes)) if (def.secret) set.add(name.toLowerCase());
      // Computed once per run; a schema not known yet (the connector failed to tell it) is asked again later.
      if (this.schema(connector)) this.byConnector.set(key, set);
    }
    return set;
  }

  private metaverseSecrets(): Set<string> {
    const out = new Set<string>();
    for (const rule of this.config.inbound) {
      for (const flow of rule.flows) {
        if ((flow.reads ?? []).some((a) => this.inConnector(rule.connector, rule.objectType, a))) out.add(flow.target.toLowerCase());
      }
    }
    for (const rule of this.config.outbound) {
      for (const flow of rule.flows) {
        if (!this.inConnector(rule.connector, rule.objectType, flow.target)) continue;
        for (const a of flow.reads ?? []) out.add(a.toLowerCase());
      }
    }
    return out;
  }
}

/** The secret values' text, for scrubbing messages a remote system or an expression may have echoed them in. */
export function secretTexts(attributes: Attributes, isSecret: (attribute: string) => boolean): string[] {
  const out: string[] = [];
  for (const [name, values] of Object.entries(attributes)) {
    if (!isSecret(name)) continue;
    for (const v of values) {
      const text = valueText(v);
      if (text !== undefined && text.length >= MIN_SCRUB_LENGTH) out.push(text);
    }
  }
  return out;
}

function valueText(v: Value): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (isReference(v)) return undefined;
  return Buffer.from(v).toString('base64');
}

/** `text` with every one of `values` replaced by [redacted]; longest first, so a value inside another goes too. */
export function scrub(text: string, values: readonly string[]): string {
  if (values.length === 0) return text;
  let out = text;
  for (const v of [...values].sort((a, b) => b.length - a.length)) {
    if (out.includes(v)) out = out.split(v).join(REDACTED);
    // A value is often echoed JSON-quoted (a flow's result, a remote error with escapes).
    const quoted = JSON.stringify(v).slice(1, -1);
    if (quoted !== v && out.includes(quoted)) out = out.split(quoted).join(REDACTED);
  }
  return out;
}

/** An attribute map with secret values replaced, for output (explain). */
export function redactAttributes(attributes: Attributes, isSecret: (attribute: string) => boolean): Attributes {
  const out: Attributes = {};
  for (const [name, values] of Object.entries(attributes)) out[name] = isSecret(name) ? values.map(() => REDACTED) : values;
  return out;
}
