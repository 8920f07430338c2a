/**
 * SCIM resources ⇄ directory objects.
 *
 * The directory keeps flat attribute names (src/directory/attributes.ts names them and their SCIM paths), so
 * that rules can use `email` and `department` rather than SCIM paths. What a client sends beyond that map is
 * kept too, so a PUT followed by a GET gives back what was written:
 *
 * - multi-valued complex attributes (emails, phoneNumbers, ims, photos, addresses, entitlements, roles,
 *   x509Certificates) are stored under their SCIM name, one JSON text per entry. The entries that have a flat
 *   name (the work email → `email`, work and mobile phones → `phoneNumber`, `mobile`) are stored as a marker
 *   without `value`, holding their other sub-attributes (primary, display), and take their value from the
 *   flat attribute when read — so a rule that changes `email` changes the SCIM work email;
 * - declared custom extension attributes are stored under their `flatName` (default: their name);
 * - anything else (an attribute no schema names, an extension no config declares) is kept in `scimExtra`,
 *   one JSON text, and merged back when read. An unknown key inside a declared extension is refused before it
 *   gets here (src/scim/resource.ts), as PATCH refuses it.
 *
 * `password` is stored as the flat attribute `password` for the rules to carry to a target, and never read back.
 */
import type { ScimAttributeConfig } from '../../config/schema.js';
import type { Attributes, Value } from '../../core/values.js';
import { isReference } from '../../core/values.js';
import type { DirectoryObject, MemberSummary, ObjectType } from '../../directory/index.js';
import { badRequest } from '../../scim/errors.js';
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from '../../scim/schemas.js';

export type ScimResource = Record<string, unknown>;

/** Custom schema extensions declared in config, as the mapping needs them. */
export interface ExtensionMapping {
  id: string;
  resourceType: 'User' | 'Group';
  attributes: ScimAttributeConfig[];
}

/** A user's group, for User.groups. */
export interface GroupRef {
  value: string;
  display?: string;
}

const PASSWORD = 'password';
const EXTRA = 'scimExtra';

/** SCIM top-level simple attributes (lower case) → flat name; the flat name is the SCIM name. */
const USER_SIMPLE = lowerMap([
  'userName',
  'displayName',
  'externalId',
  'nickName',
  'title',
  'userType',
  'preferredLanguage',
  'locale',
  'timezone',
  'profileUrl',
]);
const GROUP_SIMPLE = lowerMap(['displayName', 'externalId']);
/** name.* → flat */
const NAME_PARTS: Record<string, [string, string]> = {
  formatted: ['formatted', 'formattedName'],
  familyname: ['familyName', 'familyName'],
  givenname: ['givenName', 'givenName'],
  middlename: ['middleName', 'middleName'],
  honorificprefix: ['honorificPrefix', 'honorificPrefix'],
  honorificsuffix: ['honorificSuffix', 'honorificSuffix'],
};
const ENTERPRISE_SIMPLE = lowerMap([
  'employeeNumber',
  'costCenter',
  'organization',
  'division',
  'department',
]);
const MULTI_COMPLEX = lowerMap([
  'emails',
  'phoneNumbers',
  'ims',
  'photos',
  'addresses',
  'entitlements',
  'roles',
  'x509Certificates',
]);
/** entries of these types have a flat attribute of their own */
const TYPED_FLAT: Record<string, Record<string, string>> = {
  emails: { work: 'email' },
  phoneNumbers: { work: 'phoneNumber', mobile: 'mobile' },
};
const IGNORED_ON_INPUT = new Set(['schemas', 'id', 'meta', 'groups']);

function lowerMap(names: string[]): Map<string, string> {
  return new Map(names.map((n) => [n.toLowerCase(), n]));
}

export class ResourceMapper {
  private readonly extensions: Map<string, ExtensionMapping>;
  /** flat names this mapping writes, per type: a PUT replaces these and keeps the others (engine-owned) */
  private readonly managed: Record<ObjectType, Set<string>>;

  constructor(extensions: ExtensionMapping[] = []) {
    this.extensions = new Map(extensions.map((e) => [e.id.toLowerCase(), e]));
    const custom = (rt: 'User' | 'Group') =>
      extensions
        .filter((e) => e.resourceType === rt)
        .flatMap((e) => e.attributes.map((a) => a.flatName ?? a.name));
    this.managed = {
      user: new Set([
        ...USER_SIMPLE.values(),
        'active',
        ...Object.values(NAME_PARTS).map(([, flat]) => flat),
        ...ENTERPRISE_SIMPLE.values(),
        'manager',
        ...MULTI_COMPLEX.values(),
        ...Object.values(TYPED_FLAT).flatMap((m) => Object.values(m)),
        PASSWORD,
        EXTRA,
        ...custom('User'),
      ]),
      group: new Set([...GROUP_SIMPLE.values(), 'members', EXTRA, ...custom('Group')]),
    };
  }

  /** The flat attributes a SCIM PUT replaces; the others (flowed by rules) are kept. */
  managedNames(type: ObjectType): ReadonlySet<string> {
    return this.managed[type];
  }

  // ---- SCIM → directory -----------------------------------------------------------------------------------

  /** Every flat attribute of a resource as a client sent it (POST, PUT, or the result of a PATCH). */
  toAttributes(type: ObjectType, resource: ScimResource): Attributes {
    if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
      throw badRequest('invalidSyntax', 'the body must be a JSON object');
    }
    const out: Attributes = {};
    const extra: Record<string, unknown> = {};
    for (const key of Object.keys(resource)) {
      const value = resource[key];
      const lower = key.toLowerCase();
      // __proto__ as a key would set the prototype of the object it is copied into: never data
      if (value === null || value === undefined || IGNORED_ON_INPUT.has(lower) || key === '__proto__')
        continue;
      if (lower.startsWith('urn:')) {
        this.extensionIn(type, key, value, out, extra);
      } else if (type === 'user') {
        this.userAttributeIn(key, lower, value, out, extra);
      } else if (GROUP_SIMPLE.has(lower)) {
        setText(out, GROUP_SIMPLE.get(lower)!, value, key);
      } else if (lower === 'members') {
        out.members = membersIn(value);
      } else {
        extra[key] = value;
      }
    }
    if (Object.keys(extra).length > 0) out[EXTRA] = [JSON.stringify(extra)];
    return out;
  }

  private userAttributeIn(
    key: string,
    lower: string,
    value: unknown,
    out: Attributes,
    extra: Record<string, unknown>,
  ): void {
    const simple = USER_SIMPLE.get(lower);
    if (simple) {
      setText(out, simple, value, key);
    } else if (lower === 'active') {
      out.active = [toBoolean(value, key)];
    } else if (lower === PASSWORD) {
      if (typeof value !== 'string') throw badRequest('invalidValue', 'password must be a string');
      out[PASSWORD] = [value];
    } else if (lower === 'name') {
      const name = asObject(value, key);
      for (const sub of Object.keys(name)) {
        const part = NAME_PARTS[sub.toLowerCase()];
        if (part) setText(out, part[1], name[sub], `name.${sub}`);
        else if (name[sub] !== null) {
          extra.name ??= {};
          (extra.name as Record<string, unknown>)[sub] = name[sub];
        }
      }
    } else if (MULTI_COMPLEX.has(lower)) {
      multiValuedIn(MULTI_COMPLEX.get(lower)!, value, out);
    } else {
      extra[key] = value;
    }
  }

  private extensionIn(
    type: ObjectType,
    urn: string,
    value: unknown,
    out: Attributes,
    extra: Record<string, unknown>,
  ): void {
    const object = asObject(value, urn);
    const lowerUrn = urn.toLowerCase();
    if (type === 'user' && lowerUrn === ENTERPRISE_USER_SCHEMA.toLowerCase()) {
      const rest: Record<string, unknown> = {};
      for (const key of Object.keys(object)) {
        const v = object[key];
        if (v === null || v === undefined) continue;
        const lower = key.toLowerCase();
        const simple = ENTERPRISE_SIMPLE.get(lower);
        if (simple) setText(out, simple, v, `${ENTERPRISE_USER_SCHEMA}:${key}`);
        else if (lower === 'manager') {
          const id = managerId(v);
          if (id) out.manager = [{ ref: id }];
        } else rest[key] = v;
      }
      if (Object.keys(rest).length > 0) extra[ENTERPRISE_USER_SCHEMA] = rest;
      return;
    }
    const declared = this.extensions.get(lowerUrn);
    if (!declared || declared.resourceType !== (type === 'user' ? 'User' : 'Group')) {
      extra[urn] = object;
      return;
    }
    const rest: Record<string, unknown> = {};
    for (const key of Object.keys(object)) {
      const v = object[key];
      if (v === null || v === undefined) continue;
      const def = declared.attributes.find((a) => a.name.toLowerCase() === key.toLowerCase());
      if (!def) rest[key] = v;
      else if (def.mutability !== 'readOnly') {
        const values = customIn(def, v, `${declared.id}:${def.name}`);
        if (values.length > 0) out[def.flatName ?? def.name] = values;
      }
    }
    if (Object.keys(rest).length > 0) extra[declared.id] = rest;
  }

  // ---- directory → SCIM -----------------------------------------------------------------------------------

  /**
   * `members`: the group's members with their type and name, for Group.members as /Schemas describes it
   * (value, $ref, type, display); without them (a resource only read to be changed), members hold `value` only.
   */
  toResource(
    object: DirectoryObject,
    base: string,
    groups?: GroupRef[],
    members?: MemberSummary[],
  ): ScimResource {
    const a = object.attributes;
    const extra = readExtra(a);
    const resource: ScimResource = {
      schemas: [object.type === 'user' ? USER_SCHEMA : GROUP_SCHEMA],
      id: object.id,
    };
    const schemas = resource.schemas as string[];
    if (object.type === 'user') this.userOut(a, resource, extra, base);
    else {
      copyText(a, resource, 'externalId');
      copyText(a, resource, 'displayName');
      if (members && members.length > 0) resource.members = members.map((m) => memberOut(m, base));
      else if (a.members && a.members.length > 0)
        resource.members = a.members.filter(isReference).map((m) => ({ value: m.ref }));
    }
    for (const ext of this.extensions.values()) {
      if (ext.resourceType !== (object.type === 'user' ? 'User' : 'Group')) continue;
      const out: Record<string, unknown> = {};
      for (const def of ext.attributes) {
        const values = a[def.flatName ?? def.name];
        if (values && values.length > 0 && def.returned !== 'never') out[def.name] = customOut(def, values);
      }
      const rest = extra[ext.id] as Record<string, unknown> | undefined;
      if (rest) Object.assign(out, rest);
      delete extra[ext.id];
      if (Object.keys(out).length > 0) {
        resource[ext.id] = out;
        schemas.push(ext.id);
      }
    }
    for (const key of Object.keys(extra)) {
      if (key === 'name' || key === ENTERPRISE_USER_SCHEMA) continue;
      resource[key] = extra[key];
      if (key.toLowerCase().startsWith('urn:')) schemas.push(key);
    }
    if (object.type === 'user' && groups && groups.length > 0) {
      resource.groups = groups.map((g) => ({
        value: g.value,
        $ref: `${base}/Groups/${g.value}`,
        ...(g.display !== undefined && { display: g.display }),
        type: 'direct',
      }));
    }
    resource.meta = {
      resourceType: object.type === 'user' ? 'User' : 'Group',
      created: object.created,
      lastModified: object.lastModified,
      location: `${base}/${object.type === 'user' ? 'Users' : 'Groups'}/${object.id}`,
      version: etag(object.version),
    };
    return resource;
  }

  private userOut(a: Attributes, resource: ScimResource, extra: Record<string, unknown>, base: string): void {
    copyText(a, resource, 'externalId');
    copyText(a, resource, 'userName');
    const name: Record<string, unknown> = {};
    for (const [scim, flat] of Object.values(NAME_PARTS)) {
      const v = a[flat]?.[0];
      if (v !== undefined) name[scim] = v;
    }
    if (extra.name && typeof extra.name === 'object') Object.assign(name, extra.name);
    if (Object.keys(name).length > 0) resource.name = name;
    for (const flat of USER_SIMPLE.values()) {
      if (flat !== 'userName' && flat !== 'externalId') copyText(a, resource, flat);
    }
    const active = a.active?.[0];
    if (typeof active === 'boolean') resource.active = active;
    for (const scim of MULTI_COMPLEX.values()) {
      const entries = multiValuedOut(scim, a);
      if (entries.length > 0) resource[scim] = entries;
    }
    const enterprise: Record<string, unknown> = {};
    for (const flat of ENTERPRISE_SIMPLE.values()) {
      const v = a[flat]?.[0];
      if (v !== undefined) enterprise[flat] = typeof v === 'number' ? String(v) : v;
    }
    const manager = a.manager?.[0];
    if (manager !== undefined) {
      const id = isReference(manager) ? manager.ref : String(manager);
      // absolute, as groups.$ref and meta.location are: one form for every reference this server returns
      enterprise.manager = { value: id, $ref: `${base}/Users/${id}` };
    }
    const rest = extra[ENTERPRISE_USER_SCHEMA];
    if (rest && typeof rest === 'object') Object.assign(enterprise, rest);
    if (Object.keys(enterprise).length > 0) {
      resource[ENTERPRISE_USER_SCHEMA] = enterprise;
      (resource.schemas as string[]).push(ENTERPRISE_USER_SCHEMA);
    }
  }
}

/** RFC 7643 §4.2: a member's value, its absolute $ref, its type (User or Group) and its display name. */
function memberOut(member: MemberSummary, base: string): Record<string, unknown> {
  if (member.type === undefined) return { value: member.id };
  const kind = member.type === 'user' ? 'Users' : 'Groups';
  return {
    value: member.id,
    $ref: `${base}/${kind}/${member.id}`,
    type: member.type === 'user' ? 'User' : 'Group',
    ...(member.display !== undefined && { display: member.display }),
  };
}

export function etag(version: number): string {
  return `W/"${version}"`;
}

// ---- helpers --------------------------------------------------------------------------------------------

function setText(out: Attributes, flat: string, value: unknown, path: string): void {
  if (value === null || value === '') return;
  if (typeof value === 'number' || typeof value === 'boolean') {
    // a typed value where SCIM has a string: keep its text rather than refuse what clients commonly send
    out[flat] = [String(value)];
    return;
  }
  if (typeof value !== 'string')
    throw badRequest('invalidValue', `${path} must be a string, not ${describe(value)}`);
  out[flat] = [value];
}

function copyText(a: Attributes, resource: ScimResource, flat: string): void {
  const v = a[flat]?.[0];
  if (v !== undefined) resource[flat] = typeof v === 'string' ? v : String(v);
}

/** true, false, and Entra's "True"/"False" strings */
export function toBoolean(value: unknown, path: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  throw badRequest('invalidValue', `${path} must be a boolean, not ${describe(value)}`);
}

function asObject(value: unknown, path: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('invalidValue', `${path} must be an object, not ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function managerId(value: unknown): string | undefined {
  // Entra has sent the manager both as {"value": id} and as the bare id
  if (typeof value === 'string') return value || undefined;
  const object = asObject(value, `${ENTERPRISE_USER_SCHEMA}:manager`);
  const id = Object.entries(object).find(([k]) => k.toLowerCase() === 'value')?.[1];
  if (id === undefined || id === null || id === '') return undefined;
  if (typeof id !== 'string')
    throw badRequest('invalidValue', "manager.value must be a string (the manager's id)");
  return id;
}

function membersIn(value: unknown): Value[] {
  const list = Array.isArray(value) ? value : [value];
  const out: Value[] = [];
  const seen = new Set<string>();
  for (const [i, entry] of list.entries()) {
    const id =
      typeof entry === 'string'
        ? entry
        : (Object.entries(asObject(entry, `members[${i}]`)).find(
            ([k]) => k.toLowerCase() === 'value',
          )?.[1] as unknown);
    if (typeof id !== 'string' || id === '')
      throw badRequest('invalidValue', `members[${i}].value must be the id of a user or group`);
    if (!seen.has(id)) out.push({ ref: id });
    seen.add(id);
  }
  return out;
}

function multiValuedIn(scim: string, value: unknown, out: Attributes): void {
  if (!Array.isArray(value))
    throw badRequest('invalidValue', `${scim} must be an array of objects, not ${describe(value)}`);
  const typed = TYPED_FLAT[scim];
  const stored: string[] = [];
  value.forEach((raw, i) => {
    if (raw === null) return;
    if (typeof raw !== 'object' || Array.isArray(raw))
      throw badRequest(
        'invalidValue',
        `${scim}[${i}] must be an object such as {"value": …, "type": …}, not ${describe(raw)}`,
      );
    const entry: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
    for (const [k, v] of Object.entries(entry)) {
      if (v !== null && typeof v === 'object')
        throw badRequest(
          'invalidValue',
          `${scim}[${i}].${k} must be a string, number or boolean, not ${describe(v)}`,
        );
    }
    if (typeof entry.primary === 'string') entry.primary = toBoolean(entry.primary, `${scim}[${i}].primary`);
    const valueKey = Object.keys(entry).find((k) => k.toLowerCase() === 'value');
    const typeKey = Object.keys(entry).find((k) => k.toLowerCase() === 'type');
    const type =
      typeKey && typeof entry[typeKey] === 'string' ? (entry[typeKey] as string).toLowerCase() : undefined;
    const flat = type && typed?.[type];
    if (flat && valueKey && out[flat] === undefined) {
      setText(out, flat, entry[valueKey], `${scim}[${i}].value`);
      delete entry[valueKey];
    }
    stored.push(JSON.stringify({ $i: i, ...entry }));
  });
  if (stored.length > 0) out[scim] = stored;
}

function multiValuedOut(scim: string, a: Attributes): Record<string, unknown>[] {
  const typed = TYPED_FLAT[scim] ?? {};
  const used = new Set<string>();
  const entries: { i: number; entry: Record<string, unknown> }[] = [];
  for (const text of a[scim] ?? []) {
    const entry = parseEntry(text);
    const i = typeof entry.$i === 'number' ? entry.$i : entries.length;
    delete entry.$i;
    const flat =
      !('value' in entry) && typeof entry.type === 'string' ? typed[entry.type.toLowerCase()] : undefined;
    if (flat) {
      // a marker: the entry's value lives in its flat attribute
      const v = !used.has(flat) ? a[flat]?.[0] : undefined;
      if (v === undefined) continue;
      used.add(flat);
      entries.push({ i, entry: { value: String(v), ...entry } });
    } else entries.push({ i, entry });
  }
  entries.sort((x, y) => x.i - y.i);
  const out = entries.map((e) => e.entry);
  for (const [type, flat] of Object.entries(typed)) {
    const v = a[flat]?.[0];
    // set by a rule (or an older write) with no marker: an entry of its own
    if (v !== undefined && !used.has(flat))
      out.push({ value: String(v), type, ...(out.length === 0 && { primary: true }) });
  }
  return out;
}

/** A stored entry; a plain string (a rule wrote `emails` as text) is taken as the value. */
function parseEntry(value: Value): Record<string, unknown> {
  if (typeof value === 'string' && value.startsWith('{')) {
    try {
      const parsed = JSON.parse(value) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        return parsed as Record<string, unknown>;
    } catch {
      // not JSON after all: a plain value
    }
  }
  return {
    value: isReference(value)
      ? value.ref
      : value instanceof Uint8Array
        ? Buffer.from(value).toString('base64')
        : value,
  };
}

function readExtra(a: Attributes): Record<string, unknown> {
  const text = a[EXTRA]?.[0];
  if (typeof text !== 'string') return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function customIn(def: ScimAttributeConfig, value: unknown, path: string): Value[] {
  const list = def.multiValued ? (Array.isArray(value) ? value : [value]) : [value];
  if (!def.multiValued && Array.isArray(value))
    throw badRequest('invalidValue', `${path} takes one value, not an array`);
  return list
    .filter((v) => v !== null)
    .map((v, i) => customValueIn(def, v, def.multiValued ? `${path}[${i}]` : path));
}

function customValueIn(def: ScimAttributeConfig, v: unknown, path: string): Value {
  switch (def.type) {
    case 'complex':
      return JSON.stringify(asObject(v, path));
    case 'boolean':
      return toBoolean(v, path);
    case 'integer':
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      throw badRequest('invalidValue', `${path} must be an integer, not ${describe(v)}`);
    case 'decimal':
      if (typeof v === 'number') return v;
      throw badRequest('invalidValue', `${path} must be a number, not ${describe(v)}`);
    default:
      if (typeof v === 'string') return v;
      throw badRequest('invalidValue', `${path} must be a string, not ${describe(v)}`);
  }
}

function customOut(def: ScimAttributeConfig, values: Value[]): unknown {
  const out = values.map((v) => (def.type === 'complex' ? parseEntry(v) : isReference(v) ? v.ref : v));
  return def.multiValued ? out : out[0];
}
