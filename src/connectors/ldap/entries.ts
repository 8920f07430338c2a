/**
 * From LDAP entries to connector objects: which object type an entry is, whether it is in scope, its anchor,
 * its attributes in the configured spelling and idsync's value types — and the AD range retrieval that makes
 * a large multi-valued attribute whole.
 */
import { AndFilter, EqualityFilter, type Filter, NotFilter, OrFilter } from 'ldapts';
import type { Attributes, Value } from '../../core/values.js';
import type { AttributeSchema, ConnectorObject, ImportChange } from '../contract.js';
import { canonicalDN, InvalidDnError } from './dn.js';
import type { Directory } from './directory.js';
import type { LdapConnection, RawAttribute, SearchEntry } from './protocol/connection.js';
import type { DirectorySchema } from './schema.js';
import type { ObjectTypeSettings } from './settings.js';
import { anchorString, fromLdap } from './values.js';

/** AD: the synthetic attribute that carries the ACCOUNTDISABLE bit of userAccountControl */
export const ACCOUNT_DISABLED = 'accountDisabled';
export const UAC_ACCOUNTDISABLE = 0x2;

const RANGE_OPTION = /^(.*);range=(\d+)-(\d+|\*)$/i;

interface AttributePlan {
  name: string;
  schema: AttributeSchema;
}
const ALL = new Set<string>();

export class EntryMapper {
  private readonly spellings = new Map<string, string>();
  /** canonical, lower-cased: a DN is inside a container when its key ends with the container's */
  private readonly baseKey: string;
  private readonly included: string[];
  private readonly excluded: string[];
  readonly anchorAttribute: string;
  private readonly types: [string, ObjectTypeSettings, Set<string> | undefined][];
  private readonly readAll: boolean;

  constructor(
    private readonly directory: Directory,
    readonly schema: DirectorySchema,
  ) {
    const settings = directory.settings;
    this.anchorAttribute = settings.anchorAttribute;
    const key = (dn: string) => canonicalDN(dn, directory.typeCase).toLowerCase();
    this.baseKey = key(settings.baseDN);
    this.included = settings.includeContainers.map(key);
    this.excluded = settings.excludeContainers.map(key);
    const spell = (name: string) => {
      if (!this.spellings.has(name.toLowerCase())) this.spellings.set(name.toLowerCase(), name);
    };
    spell('objectClass');
    spell(this.anchorAttribute);
    // AD: objectGUID is always read, whatever the anchor (flows such as the source anchor use it)
    const always = directory.isAd
      ? ['objectClass', this.anchorAttribute, 'objectGUID']
      : ['objectClass', this.anchorAttribute];
    if (directory.isAd) spell('objectGUID');
    this.types = Object.entries(settings.objectTypes).map(([name, type]) => {
      type.attributes.forEach(spell);
      const wanted =
        type.attributes.length > 0
          ? new Set([...type.attributes, ...always].map((a) => a.toLowerCase()))
          : undefined;
      return [name, type, wanted];
    });
    this.readAll = this.types.some(([, , wanted]) => wanted === undefined);
  }

  /** the configured spelling of an attribute, else the schema's, else the server's */
  spell(name: string): string {
    return this.spellings.get(name.toLowerCase()) ?? this.schema.spelling(name) ?? name;
  }

  attributeSchema(name: string): AttributeSchema {
    return this.schema.attribute(name);
  }

  /** the attributes to ask the server for */
  requestedAttributes(extra: string[] = []): string[] {
    const names = new Set<string>();
    if (this.readAll) names.add('*');
    for (const name of this.spellings.values()) names.add(name);
    for (const name of extra) names.add(name);
    return [...names];
  }

  /** is this attribute (as the server names it, options included) to be kept as bytes? */
  readonly isBinary = (type: string): boolean => {
    const base = type.split(';')[0]!;
    return this.schema.attribute(base).type === 'binary' || /;binary$/i.test(type);
  };

  typeFilter(objectType?: string): Filter {
    const filters = this.types
      .filter(([name]) => objectType === undefined || name === objectType)
      .map(([, type]) => {
        const parts: Filter[] = type.objectClasses.map(
          (oc) => new EqualityFilter({ attribute: 'objectClass', value: oc }),
        );
        for (const oc of type.excludeObjectClasses) {
          parts.push(new NotFilter({ filter: new EqualityFilter({ attribute: 'objectClass', value: oc }) }));
        }
        return parts.length === 1 ? parts[0]! : new AndFilter({ filters: parts });
      });
    return filters.length === 1 ? filters[0]! : new OrFilter({ filters });
  }

  objectTypeSettings(objectType: string): ObjectTypeSettings | undefined {
    return this.directory.settings.objectTypes[objectType];
  }

  private readonly classified = new Map<string, string | undefined>();

  /** the object type of an entry with these object classes (cached: a directory has few combinations) */
  classify(objectClasses: readonly (string | Buffer)[]): string | undefined {
    const key = objectClasses.join('\n');
    if (this.classified.has(key)) return this.classified.get(key);
    const objectType = this.classifyUncached(objectClasses.map(String));
    if (this.classified.size < 10_000) this.classified.set(key, objectType);
    return objectType;
  }

  private classifyUncached(objectClasses: readonly string[]): string | undefined {
    const have = new Set(objectClasses.map((oc) => oc.toLowerCase()));
    for (const [name, type] of this.types) {
      if (
        type.objectClasses.every((oc) => have.has(oc.toLowerCase())) &&
        !type.excludeObjectClasses.some((oc) => have.has(oc.toLowerCase()))
      ) {
        return name;
      }
    }
    return undefined;
  }

  /** the search bases: the included containers, or the base DN */
  searchBases(): string[] {
    const settings = this.directory.settings;
    return settings.includeContainers.length > 0 ? settings.includeContainers : [settings.baseDN];
  }

  inScope(dn: string): boolean {
    return this.inScopeCanonical(this.canonical(dn));
  }

  private inScopeCanonical(name: string): boolean {
    const within = (container: string) => {
      const at = name.length - container.length;
      if (at < 0 || (at > 0 && name[at - 1] !== ',')) return false;
      return (at === 0 ? name : name.slice(at)).toLowerCase() === container;
    };
    if (!within(this.baseKey)) return false;
    if (this.included.length > 0 && !this.included.some(within)) return false;
    return !this.excluded.some(within);
  }

  canonical(dn: string): string {
    try {
      return canonicalDN(dn, this.directory.typeCase);
    } catch (err) {
      if (err instanceof InvalidDnError) return dn;
      throw err;
    }
  }

  rawValues(entry: SearchEntry, name: string): (string | Buffer)[] {
    // servers mostly answer in the spelling asked for: compare as is first
    for (const a of entry.attributes) if (a.type === name) return a.values;
    const key = name.toLowerCase();
    return entry.attributes.find((a) => a.type.toLowerCase() === key)?.values ?? [];
  }

  anchorOf(entry: SearchEntry): string | undefined {
    let raw = this.rawValues(entry, this.anchorAttribute)[0];
    // Entra Connect's convention: an object without ms-DS-ConsistencyGuid is anchored by its objectGUID (the
    // same bytes, once written back), so the anchor does not change when the writeback happens
    if (raw === undefined && this.directory.isAd) raw = this.rawValues(entry, 'objectGUID')[0];
    return raw === undefined ? undefined : anchorString(this.anchorAttribute, raw);
  }

  /**
   * An entry as an import change: an upsert, an error (no anchor), or undefined for entries the connector
   * does not manage (another object class, out of scope).
   */
  toChange(entry: SearchEntry): ImportChange | undefined {
    const object = this.toObject(entry);
    if (object === undefined) return undefined;
    if ('error' in object) return object.error;
    return { kind: 'upsert', object };
  }

  toObject(entry: SearchEntry): ConnectorObject | { error: ImportChange } | undefined {
    const objectType = this.classify(this.rawValues(entry, 'objectClass'));
    if (objectType === undefined) return undefined;
    const name = this.canonical(entry.dn);
    if (!this.inScopeCanonical(name)) return undefined;
    const anchor = this.anchorOf(entry);
    if (anchor === undefined) {
      return {
        error: {
          kind: 'error',
          location: name,
          code: 'LDAP_ANCHOR_MISSING',
          message: `${name} has no ${this.anchorAttribute}: it cannot be anchored (is it readable by the bind DN?)`,
        },
      };
    }
    const wanted = this.types.find(([n]) => n === objectType)![2];
    return { anchor, objectType, name, attributes: this.attributes(entry.attributes, wanted) };
  }

  /** how each attribute type (as the server spells it) is read, per set of wanted attributes */
  private readonly plans = new WeakMap<Set<string> | typeof ALL, Map<string, AttributePlan | null>>();

  private plan(type: string, wanted: Set<string> | undefined): AttributePlan | null {
    const plansKey = wanted ?? ALL;
    let plans = this.plans.get(plansKey);
    if (!plans) {
      plans = new Map();
      this.plans.set(plansKey, plans);
    }
    let plan = plans.get(type);
    if (plan === undefined) {
      const base = type.replace(/;binary$/i, '');
      const key = base.toLowerCase();
      // other options (ranges are merged before, language tags are not handled) and unwanted attributes are skipped
      plan =
        base.includes(';') || (wanted && !wanted.has(key))
          ? null
          : { name: this.spell(base), schema: this.schema.attribute(key) };
      plans.set(type, plan);
    }
    return plan;
  }

  /** the entry's attributes in idsync's value model, limited to the ones the object type reads */
  attributes(raw: RawAttribute[], wanted?: Set<string>): Attributes {
    const attributes: Attributes = {};
    const typeCase = this.directory.typeCase;
    for (const attribute of raw) {
      const plan = this.plan(attribute.type, wanted);
      if (!plan) continue;
      const schema = plan.schema;
      // text decoded by the reader is used as it is: no copy per attribute (an import reads millions)
      const values: Value[] =
        schema.type === 'string' && typeof attribute.values[0] === 'string'
          ? (attribute.values as string[])
          : attribute.values.map((v) => fromLdap(v, schema, typeCase));
      attributes[plan.name] = values;
    }
    if (this.directory.isAd) {
      const uac = attributes.userAccountControl ?? attributes[this.spell('userAccountControl')];
      if (uac?.length) attributes[ACCOUNT_DISABLED] = [(Number(uac[0]) & UAC_ACCOUNTDISABLE) !== 0];
    }
    return attributes;
  }

  /** does the entry carry a partial multi-valued attribute (AD range retrieval)? */
  static hasRanges(entry: SearchEntry): boolean {
    return entry.attributes.some((a) => RANGE_OPTION.test(a.type));
  }
}

/**
 * AD returns at most MaxValRange values of an attribute per response, as `member;range=0-1499`; this reads
 * the following ranges (`member;range=1500-*`, …) and merges them back into one `member`.
 */
export async function completeRanges(
  connection: LdapConnection,
  entry: SearchEntry,
  isBinary: (type: string) => boolean,
): Promise<SearchEntry> {
  const merged: RawAttribute[] = [];
  for (const attribute of entry.attributes) {
    const m = RANGE_OPTION.exec(attribute.type);
    if (!m) {
      merged.push(attribute);
      continue;
    }
    const name = m[1]!;
    const values = [...attribute.values];
    let end = m[3]!;
    for (let guard = 0; end !== '*' && guard < 100_000; guard++) {
      const next = Number(end) + 1;
      const [page] = await connection.searchAll({
        baseDN: entry.dn,
        scope: 'base',
        filter: new EqualityFilter({ attribute: 'objectClass', value: 'top' }),
        attributes: [`${name};range=${next}-*`],
        binary: isBinary,
      });
      const part = page?.attributes.find((a) =>
        a.type.toLowerCase().startsWith(`${name.toLowerCase()};range=`),
      );
      if (!part) break;
      values.push(...part.values);
      end = RANGE_OPTION.exec(part.type)?.[3] ?? '*';
    }
    const existing = merged.find((a) => a.type.toLowerCase() === name.toLowerCase());
    if (existing) existing.values.push(...values);
    else merged.push({ type: name, values });
  }
  return { ...entry, attributes: merged };
}
