/**
 * Export: create, update (minimal modify operations, rename and move), delete — each change on its own, a
 * failure is a result and the batch goes on, with a bounded number of operations in flight.
 */
import { Attribute, Change, EqualityFilter, PresenceFilter } from 'ldapts';
import { isConnectionFailure } from '../../core/errors.js';
import type { Value } from '../../core/values.js';
import type { AttributeChange, ExportChange, ExportResult } from '../contract.js';
import { formatDN, formatRdn, InvalidDnError, parseDN, type Rdn } from './dn.js';
import type { Directory, RootDse } from './directory.js';
import { snake } from './directory.js';
import { ACCOUNT_DISABLED, type EntryMapper, UAC_ACCOUNTDISABLE } from './entries.js';
import {
  type LdapConnection,
  LdapConnectionError,
  LdapResultError,
  resultCodeName,
} from './protocol/connection.js';
import { assertionControl, OID, permissiveModifyControl } from './protocol/controls.js';
import { anchorSearchValue, anchorString, guidToBytes, toLdap } from './values.js';

const UAC_NORMAL_ACCOUNT = 0x200;
const RETRYABLE = new Set([3, 51, 52, 80]);
const ASSERTION_FAILED = 122;
const NO_SUCH_OBJECT = 32;
const ENTRY_ALREADY_EXISTS = 68;

/** an export change that failed in a way worth a clear message of our own */
class ExportRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly attribute?: string,
  ) {
    super(message);
  }
}

interface Located {
  dn: string;
  /** controls that make the operation apply only to the expected object */
  guard: ReturnType<typeof assertionControl>[];
}

export class Exporter {
  /** the containers this batch made or found, by lower-cased DN (an Exporter lives for one batch) */
  private readonly containers = new Map<string, Promise<void>>();

  constructor(
    private readonly directory: Directory,
    private readonly mapper: EntryMapper,
    private readonly connection: () => Promise<LdapConnection>,
    private readonly root: RootDse,
  ) {}

  async *run(changes: ExportChange[]): AsyncGenerator<ExportResult> {
    const limit = this.directory.settings.maxConcurrency;
    const waiting = [...changes];
    const running = new Set<Promise<{ self: Promise<unknown>; result: ExportResult }>>();
    const start = (change: ExportChange) => {
      const promise: Promise<{ self: Promise<unknown>; result: ExportResult }> = this.one(change).then(
        (result) => ({
          self: promise,
          result,
        }),
      );
      running.add(promise);
    };
    while (waiting.length > 0 || running.size > 0) {
      while (running.size < limit && waiting.length > 0) start(waiting.shift()!);
      const { self, result } = await Promise.race(running);
      running.delete(self as never);
      yield result;
    }
  }

  private async one(change: ExportChange): Promise<ExportResult> {
    try {
      if (change.op === 'create') return await this.create(change);
      if (change.op === 'update') return await this.update(change);
      return await this.remove(change);
    } catch (err) {
      return { id: change.id, ok: false, error: this.describe(err, change) };
    }
  }

  private describe(err: unknown, change: ExportChange) {
    const target =
      change.op === 'create' ? (change.name ?? change.objectType) : (change.name ?? change.anchor);
    if (err instanceof LdapResultError) {
      return {
        code: `LDAP_${snake(resultCodeName(err.resultCode))}`,
        message: `${target}: ${err.message}`,
        retryable: RETRYABLE.has(err.resultCode),
        remoteCode: err.resultCode,
      };
    }
    if (err instanceof LdapConnectionError) {
      return { code: 'LDAP_CONNECTION_LOST', message: `${target}: ${err.message}`, retryable: true, connection: true };
    }
    if (err instanceof ExportRefusal) {
      return {
        code: err.code,
        message: `${target}: ${err.message}`,
        retryable: false,
        attribute: err.attribute,
      };
    }
    if (err instanceof InvalidDnError)
      return { code: 'LDAP_INVALID_DN', message: err.message, retryable: false };
    const message = err instanceof Error ? err.message : String(err);
    if (typeof err === 'object' && err !== null && 'retryable' in err) {
      return {
        code: String((err as { code?: string }).code ?? 'LDAP_ERROR'),
        message,
        retryable: Boolean(err.retryable),
        ...(isConnectionFailure(err) && { connection: true }),
      };
    }
    if (isConnectionFailure(err)) return { code: 'LDAP_CONNECTION_LOST', message: `${target}: ${message}`, retryable: true, connection: true };
    return { code: 'LDAP_ERROR', message: `${target}: ${message}`, retryable: false };
  }

  // ---- create --------------------------------------------------------------------------------------

  private newName(change: Extract<ExportChange, { op: 'create' }>): Rdn[] {
    if (change.name) return parseDN(change.name);
    const type = this.mapper.objectTypeSettings(change.objectType);
    const rdnAttribute = type?.rdnAttribute;
    const value = rdnAttribute
      ? (change.attributes[rdnAttribute]?.[0] ?? findAttribute(change.attributes, rdnAttribute))
      : undefined;
    if (!rdnAttribute || value === undefined || !type?.container) {
      throw new ExportRefusal(
        'LDAP_NO_NAME',
        `a new ${change.objectType} needs a DN: flow one to "dn", or set rdnAttribute and container for the object type`,
      );
    }
    return [[{ type: rdnAttribute, value: String(value) }], ...parseDN(type.container)];
  }

  private async create(change: Extract<ExportChange, { op: 'create' }>): Promise<ExportResult> {
    const rdns = this.newName(change);
    const dn = formatDN(rdns, this.directory.typeCase);
    const connection = await this.connection();
    const attributes: Attribute[] = [];
    const given = new Map(Object.entries(change.attributes).map(([k, v]) => [k.toLowerCase(), v]));
    if (!given.has('objectclass')) {
      const type = this.mapper.objectTypeSettings(change.objectType);
      if (!type)
        throw new ExportRefusal(
          'LDAP_UNKNOWN_OBJECT_TYPE',
          `object type ${change.objectType} is not configured`,
        );
      given.set('objectclass', type.objectClasses);
    }
    const disabled = given.get(ACCOUNT_DISABLED.toLowerCase());
    given.delete(ACCOUNT_DISABLED.toLowerCase());
    given.delete('dn');
    if (this.directory.isAd && disabled?.length && !given.has('useraccountcontrol')) {
      given.set('useraccountcontrol', [UAC_NORMAL_ACCOUNT | (disabled[0] === true ? UAC_ACCOUNTDISABLE : 0)]);
    }
    for (const [key, values] of given) {
      if (values.length === 0) continue;
      const name = this.mapper.spell(key);
      attributes.push(
        new Attribute({ type: name, values: this.encode(name, values, connection) as string[] }),
      );
    }
    try {
      await connection.add(dn, attributes);
    } catch (err) {
      if (
        !(
          err instanceof LdapResultError &&
          err.resultCode === NO_SUCH_OBJECT &&
          this.directory.settings.createMissingContainers
        )
      )
        throw err;
      await this.ensureContainer(connection, rdns.slice(1));
      await connection.add(dn, attributes);
    }
    const anchor = await this.readAnchor(connection, dn, true);
    return { id: change.id, ok: true, anchor, name: dn };
  }

  /**
   * Creates the missing containers above a new entry, top down (organizationalUnit, or container for CN=).
   * Each container is made once per batch: the creates under it that run at the same time wait for that one
   * add instead of racing to make it, and one that exists by the time it is added (another writer) is there.
   */
  private ensureContainer(connection: LdapConnection, container: Rdn[]): Promise<void> {
    const base = parseDN(this.directory.settings.baseDN);
    if (container.length <= base.length) return Promise.resolve();
    const dn = formatDN(container, this.directory.typeCase);
    const key = dn.toLowerCase();
    let made = this.containers.get(key);
    if (!made) {
      made = this.makeContainer(connection, container, dn);
      this.containers.set(key, made);
    }
    return made;
  }

  private async makeContainer(connection: LdapConnection, container: Rdn[], dn: string): Promise<void> {
    const [entry] = await connection
      .searchAll({
        baseDN: dn,
        scope: 'base',
        filter: new PresenceFilter({ attribute: 'objectClass' }),
        attributes: ['1.1'],
      })
      .catch((err) => {
        if (err instanceof LdapResultError && err.resultCode === NO_SUCH_OBJECT) return [];
        throw err;
      });
    if (entry) return;
    await this.ensureContainer(connection, container.slice(1));
    const rdn = container[0]![0]!;
    const isOu = rdn.type.toLowerCase() === 'ou';
    const objectClass = isOu
      ? 'organizationalUnit'
      : this.directory.isAd
        ? 'container'
        : 'organizationalRole';
    await connection
      .add(dn, [
        new Attribute({ type: 'objectClass', values: [objectClass] }),
        new Attribute({ type: rdn.type, values: [rdn.value] }),
      ])
      .catch((err) => {
        if (err instanceof LdapResultError && err.resultCode === ENTRY_ALREADY_EXISTS) return;
        // the change fails with the container's result, saying it was the container's
        throw err instanceof LdapResultError ? new LdapResultError(`adding the container ${dn}`, err.result) : err;
      });
  }

  /** the new object's anchor; with the AD writeback, ms-DS-ConsistencyGuid is set from objectGUID first */
  private async readAnchor(connection: LdapConnection, dn: string, created: boolean): Promise<string> {
    const anchorAttribute = this.mapper.anchorAttribute;
    const [entry] = await connection.searchAll({
      baseDN: dn,
      scope: 'base',
      filter: new PresenceFilter({ attribute: 'objectClass' }),
      attributes: [anchorAttribute, 'objectGUID'],
      binary: this.mapper.isBinary,
    });
    if (!entry)
      throw new ExportRefusal('LDAP_ANCHOR_MISSING', `${dn} cannot be read back after it was written`);
    if (created && this.directory.isAd && this.directory.settings.ad.consistencyGuidWriteback) {
      await this.writeConsistencyGuid(connection, dn, entry);
    }
    const anchor = this.mapper.anchorOf(entry);
    if (!anchor) throw new ExportRefusal('LDAP_ANCHOR_MISSING', `${dn} has no ${anchorAttribute}`);
    return anchor;
  }

  private async writeConsistencyGuid(
    connection: LdapConnection,
    dn: string,
    entry: { attributes: { type: string; values: (string | Buffer)[] }[] },
  ): Promise<void> {
    const find = (n: string) => entry.attributes.find((a) => a.type.toLowerCase() === n)?.values[0];
    if (find('ms-ds-consistencyguid') !== undefined) return;
    const guid = find('objectguid');
    if (!(guid instanceof Buffer)) return;
    await connection.modify(dn, [
      new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'mS-DS-ConsistencyGuid', values: [guid] }),
      }),
    ]);
  }

  // ---- update --------------------------------------------------------------------------------------

  private async update(change: Extract<ExportChange, { op: 'update' }>): Promise<ExportResult> {
    const connection = await this.connection();
    let located = await this.locate(connection, change.objectType, change.anchor, change.name);
    let name = change.name ? this.mapper.canonical(change.name) : undefined;
    let changes = change.changes;
    if (change.newName) {
      const target = parseDN(change.newName);
      const newName = formatDN(target, this.directory.typeCase);
      if (newName !== name) {
        const parent = target.slice(1);
        if (this.directory.settings.createMissingContainers) await this.ensureContainer(connection, parent);
        located = await this.withRetry(connection, change, located, (l) =>
          connection.modifyDN(
            l.dn,
            formatRdn(target[0]!, this.directory.typeCase),
            formatDN(parent, this.directory.typeCase),
            l.guard,
          ),
        );
        // AD's <GUID=…> says nothing of the old RDN: the engine's name does (its permissive modify covers a stale one)
        const from = located.dn.startsWith('<') ? change.name : located.dn;
        if (from) changes = asRenamed(changes, parseDN(from)[0]!, target[0]!);
        // AD keeps addressing the object by GUID; elsewhere the anchor assertion stays true under the new name
        if (!located.dn.startsWith('<')) located = { dn: newName, guard: located.guard };
        name = newName;
      }
    }
    const modifications = await this.modifications(connection, located.dn, changes);
    if (this.directory.isAd && this.directory.settings.ad.consistencyGuidWriteback) {
      const [entry] = await connection.searchAll({
        baseDN: located.dn,
        scope: 'base',
        filter: new PresenceFilter({ attribute: 'objectClass' }),
        attributes: ['objectGUID', 'mS-DS-ConsistencyGuid'],
        binary: this.mapper.isBinary,
      });
      if (entry) await this.writeConsistencyGuid(connection, located.dn, entry);
    }
    if (modifications.length > 0) {
      const controls = this.root.supportedControls.has(OID.permissiveModify)
        ? [permissiveModifyControl()]
        : [];
      located = await this.withRetry(connection, change, located, (l) =>
        connection.modify(l.dn, modifications, [...controls, ...l.guard]),
      );
      if (!located.dn.startsWith('<') && located.guard.length === 0) name = this.mapper.canonical(located.dn);
    }
    return { id: change.id, ok: true, anchor: change.anchor, name };
  }

  private async modifications(
    connection: LdapConnection,
    dn: string,
    changes: Record<string, AttributeChange>,
  ): Promise<Change[]> {
    const out: Change[] = [];
    for (const [name, attributeChange] of Object.entries(changes)) {
      const key = name.toLowerCase();
      if (key === 'dn') continue;
      if (key === ACCOUNT_DISABLED.toLowerCase()) {
        out.push(await this.accountDisabledChange(connection, dn, attributeChange));
        continue;
      }
      const spelled = this.mapper.spell(name);
      const mod = (operation: 'add' | 'delete' | 'replace', values: Value[]) =>
        out.push(
          new Change({
            operation,
            modification: new Attribute({
              type: spelled,
              values: this.encode(spelled, values, connection) as string[],
            }),
          }),
        );
      if (attributeChange.replace) mod('replace', attributeChange.replace);
      if (attributeChange.remove?.length) mod('delete', attributeChange.remove);
      if (attributeChange.add?.length) mod('add', attributeChange.add);
    }
    return out;
  }

  /** AD: userAccountControl with the ACCOUNTDISABLE bit set or cleared, the other bits as they are now */
  private async accountDisabledChange(
    connection: LdapConnection,
    dn: string,
    change: AttributeChange,
  ): Promise<Change> {
    if (!this.directory.isAd) {
      throw new ExportRefusal(
        'LDAP_NO_DISABLE',
        `${ACCOUNT_DISABLED} is an Active Directory attribute`,
        ACCOUNT_DISABLED,
      );
    }
    const wanted = (change.replace ?? change.add ?? [])[0];
    const [entry] = await connection.searchAll({
      baseDN: dn,
      scope: 'base',
      filter: new PresenceFilter({ attribute: 'objectClass' }),
      attributes: ['userAccountControl'],
    });
    const current = Number(
      entry?.attributes.find((a) => a.type.toLowerCase() === 'useraccountcontrol')?.values[0] ??
        UAC_NORMAL_ACCOUNT,
    );
    const next = wanted === true ? current | UAC_ACCOUNTDISABLE : current & ~UAC_ACCOUNTDISABLE;
    return new Change({
      operation: 'replace',
      modification: new Attribute({ type: 'userAccountControl', values: [String(next)] }),
    });
  }

  // ---- delete --------------------------------------------------------------------------------------

  private async remove(change: Extract<ExportChange, { op: 'delete' }>): Promise<ExportResult> {
    const connection = await this.connection();
    let located: Located;
    try {
      located = await this.locate(connection, change.objectType, change.anchor, change.name);
    } catch (err) {
      // already gone: what the delete wanted
      if (err instanceof ExportRefusal && err.code === 'LDAP_NOT_FOUND')
        return { id: change.id, ok: true, anchor: change.anchor };
      throw err;
    }
    try {
      await this.withRetry(connection, change, located, (l) => connection.delete(l.dn, l.guard));
    } catch (err) {
      if (err instanceof ExportRefusal && err.code === 'LDAP_NOT_FOUND')
        return { id: change.id, ok: true, anchor: change.anchor };
      throw err;
    }
    return { id: change.id, ok: true, anchor: change.anchor };
  }

  // ---- finding the object --------------------------------------------------------------------------

  /**
   * Where the object with this anchor is. The engine's name may be stale (renamed or moved since the last
   * import), so an operation on it carries an assertion on the anchor; AD addresses the object by GUID.
   */
  private async locate(
    connection: LdapConnection,
    objectType: string,
    anchor: string,
    name?: string,
  ): Promise<Located> {
    const anchorAttribute = this.mapper.anchorAttribute;
    if (this.directory.isAd && anchorAttribute.toLowerCase() === 'objectguid') {
      guidToBytes(anchor); // a clear error for a malformed anchor
      return { dn: `<GUID=${anchor}>`, guard: [] };
    }
    if (name && this.root.supportedControls.has(OID.assertion) && !this.mapper.isBinary(anchorAttribute)) {
      return {
        dn: name,
        guard: [assertionControl(new EqualityFilter({ attribute: anchorAttribute, value: anchor }))],
      };
    }
    return { dn: await this.findByAnchor(connection, objectType, anchor), guard: [] };
  }

  private async findByAnchor(
    connection: LdapConnection,
    _objectType: string,
    anchor: string,
  ): Promise<string> {
    const anchorAttribute = this.mapper.anchorAttribute;
    const binary = this.mapper.isBinary(anchorAttribute);
    const filters = [
      new EqualityFilter({
        attribute: anchorAttribute,
        value: anchorSearchValue(anchorAttribute, anchor, binary),
      }),
    ];
    const entries = await connection.searchAll({
      baseDN: this.directory.settings.baseDN,
      scope: 'sub',
      filter: filters[0]!,
      attributes: [anchorAttribute],
      binary: this.mapper.isBinary,
    });
    const match = entries.find((e) => {
      const raw = e.attributes.find((a) => a.type.toLowerCase() === anchorAttribute.toLowerCase())?.values[0];
      return raw !== undefined && anchorString(anchorAttribute, raw).toLowerCase() === anchor.toLowerCase();
    });
    if (!match) throw new ExportRefusal('LDAP_NOT_FOUND', `no object with ${anchorAttribute} ${anchor}`);
    return match.dn;
  }

  /** runs an operation; when the name turns out stale (assertion failed, no such object), finds the object by anchor and runs it again */
  private async withRetry(
    connection: LdapConnection,
    change: Extract<ExportChange, { op: 'update' | 'delete' }>,
    located: Located,
    operation: (located: Located) => Promise<void>,
  ): Promise<Located> {
    try {
      await operation(located);
      return located;
    } catch (err) {
      const stale =
        err instanceof LdapResultError &&
        (err.resultCode === ASSERTION_FAILED || err.resultCode === NO_SUCH_OBJECT);
      if (!stale || located.guard.length === 0) {
        if (err instanceof LdapResultError && err.resultCode === NO_SUCH_OBJECT && change.op === 'delete') {
          throw new ExportRefusal('LDAP_NOT_FOUND', 'gone already');
        }
        throw err;
      }
      const relocated: Located = {
        dn: await this.findByAnchor(connection, change.objectType, change.anchor),
        guard: [],
      };
      await operation(relocated);
      return relocated;
    }
  }

  // ---- values --------------------------------------------------------------------------------------

  private encode(name: string, values: Value[], connection: LdapConnection): (string | Buffer)[] {
    const key = name.toLowerCase();
    if (key === 'unicodepwd') {
      if (!connection.encrypted) {
        throw new ExportRefusal(
          'LDAP_PASSWORD_NEEDS_TLS',
          'unicodePwd is only sent over an encrypted connection (ldaps:// or tls.startTls)',
          name,
        );
      }
      // AD wants the password in double quotes, UTF-16LE
      return values.map((v) =>
        v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(`"${String(v)}"`, 'utf16le'),
      );
    }
    const schema = this.mapper.attributeSchema(key);
    return values.map((v) => {
      const out = toLdap(v, schema);
      if (key === 'objectclass' || typeof out !== 'string' || schema.type !== 'reference') return out;
      // references are written in the canonical spelling too (a DN value with special characters stays valid)
      try {
        return formatDN(parseDN(out), this.directory.typeCase);
      } catch {
        return out;
      }
    });
  }
}

/**
 * Value changes computed against the entry before a rename, made to fit the entry the rename left: modifyDN
 * (deleteOldRdn) removed the old RDN's values and added the new one's, so deleting the former or adding the
 * latter again would fail (noSuchAttribute 16, attributeOrValueExists 20). RDN values compare ignoring case,
 * as the naming attributes (cn, uid, ou) do.
 */
function asRenamed(
  changes: Record<string, AttributeChange>,
  from: Rdn,
  to: Rdn,
): Record<string, AttributeChange> {
  const valuesOf = (rdn: Rdn, type: string) =>
    new Set(rdn.filter((a) => a.type.toLowerCase() === type).map((a) => a.value.toLowerCase()));
  const without = (values: Value[], drop: Set<string>) =>
    values.filter((v) => typeof v !== 'string' || !drop.has(v.toLowerCase()));
  const out: Record<string, AttributeChange> = {};
  for (const [name, change] of Object.entries(changes)) {
    const type = name.toLowerCase();
    const present = valuesOf(to, type);
    const gone = new Set([...valuesOf(from, type)].filter((v) => !present.has(v)));
    out[name] = {
      ...change,
      ...(change.add ? { add: without(change.add, present) } : {}),
      ...(change.remove ? { remove: without(change.remove, gone) } : {}),
    };
  }
  return out;
}

function findAttribute(attributes: Record<string, Value[]>, name: string): Value | undefined {
  const key = name.toLowerCase();
  for (const [k, v] of Object.entries(attributes)) if (k.toLowerCase() === key) return v[0];
  return undefined;
}
