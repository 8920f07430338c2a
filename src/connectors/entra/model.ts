/**
 * Users and groups as Graph v1.0 has them, and their flat attributes: one attribute per Graph property
 * (same name), `onPremisesExtensionAttributes.extensionAttribute1..15` for the on-premises extension
 * attributes, `extension_<appId>_<name>` for directory extensions, `manager` and `members` as references
 * (object ids), and `password` (secret, sent only in the passwordProfile of a create).
 *
 * Properties: https://learn.microsoft.com/graph/api/resources/user and .../resources/group
 */
import type { Attributes, Value } from '../../core/values.js';
import { isReference } from '../../core/values.js';
import type { AttributeSchema, ObjectTypeSchema } from '../contract.js';
import type { EntraSettings } from './settings.js';

export type ObjectKind = 'user' | 'group';

const S: AttributeSchema = { type: 'string', multiValued: false };
const SM: AttributeSchema = { type: 'string', multiValued: true };
const B: AttributeSchema = { type: 'boolean', multiValued: false };
const RO: AttributeSchema = { type: 'string', multiValued: false, readOnly: true };
const ROM: AttributeSchema = { type: 'string', multiValued: true, readOnly: true };

const USER: Record<string, AttributeSchema> = {
  accountEnabled: B,
  userPrincipalName: S,
  displayName: S,
  givenName: S,
  surname: S,
  mail: S,
  mailNickname: S,
  otherMails: SM,
  jobTitle: S,
  department: S,
  companyName: S,
  employeeId: S,
  employeeType: S,
  employeeHireDate: { type: 'date', multiValued: false },
  officeLocation: S,
  businessPhones: SM,
  mobilePhone: S,
  faxNumber: S,
  streetAddress: S,
  city: S,
  state: S,
  postalCode: S,
  country: S,
  usageLocation: S,
  preferredLanguage: S,
  userType: S,
  onPremisesImmutableId: S,
  // written only by Microsoft's own sync engines (Connect, Cloud Sync): read here, never written
  proxyAddresses: ROM,
  onPremisesSamAccountName: RO,
  onPremisesSecurityIdentifier: RO,
  onPremisesDistinguishedName: RO,
  onPremisesDomainName: RO,
  onPremisesUserPrincipalName: RO,
  onPremisesSyncEnabled: { type: 'boolean', multiValued: false, readOnly: true },
  createdDateTime: { type: 'date', multiValued: false, readOnly: true },
  manager: { type: 'reference', multiValued: false },
  password: { type: 'string', multiValued: false, secret: true },
};

const GROUP: Record<string, AttributeSchema> = {
  displayName: S,
  description: S,
  mailNickname: S,
  mailEnabled: B,
  securityEnabled: B,
  groupTypes: SM,
  visibility: S,
  mail: RO,
  proxyAddresses: ROM,
  onPremisesSamAccountName: RO,
  onPremisesSecurityIdentifier: RO,
  onPremisesSyncEnabled: { type: 'boolean', multiValued: false, readOnly: true },
  createdDateTime: { type: 'date', multiValued: false, readOnly: true },
  members: { type: 'reference', multiValued: true },
};

export const ON_PREM_EXT = 'onPremisesExtensionAttributes';
const EXT_PREFIX = `${ON_PREM_EXT}.`;

export interface Model {
  kind: ObjectKind;
  /** Graph collection: /users, /groups */
  collection: string;
  schema: ObjectTypeSchema;
  /** properties for $select (without the references) */
  select: string[];
}

export function models(settings: EntraSettings): Record<ObjectKind, Model> {
  const user: Record<string, AttributeSchema> = { ...USER };
  for (let i = 1; i <= 15; i++) user[`${EXT_PREFIX}extensionAttribute${i}`] = S;
  for (const name of settings.extensions) user[`extension_${settings.extensionAppId}_${name}`] = S;
  for (const name of settings.userAttributes) user[name] ??= S;
  const group: Record<string, AttributeSchema> = { ...GROUP };
  for (const name of settings.groupAttributes) group[name] ??= S;
  return {
    user: { kind: 'user', collection: '/users', schema: { attributes: user }, select: selectOf(user) },
    group: { kind: 'group', collection: '/groups', schema: { attributes: group }, select: selectOf(group) },
  };
}

function selectOf(attributes: Record<string, AttributeSchema>): string[] {
  const out = new Set<string>(['id']);
  for (const [name, a] of Object.entries(attributes)) {
    if (a.type === 'reference' || a.secret) continue;
    out.add(name.startsWith(EXT_PREFIX) ? ON_PREM_EXT : name);
  }
  return [...out];
}

/** A Graph object as flat attributes (references not included: they are read on their own). */
export function toAttributes(model: Model, item: Record<string, unknown>): Attributes {
  const out: Attributes = {};
  for (const [name, a] of Object.entries(model.schema.attributes)) {
    if (a.type === 'reference' || a.secret) continue;
    let raw: unknown;
    if (name.startsWith(EXT_PREFIX)) {
      const ext = item[ON_PREM_EXT] as Record<string, unknown> | null | undefined;
      raw = ext?.[name.slice(EXT_PREFIX.length)];
    } else {
      raw = item[name];
    }
    const values = valuesOf(raw, a);
    if (values.length > 0) out[name] = values;
  }
  return out;
}

function valuesOf(raw: unknown, a: AttributeSchema): Value[] {
  if (raw === null || raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  const out: Value[] = [];
  for (const v of list) {
    if (v === null || v === undefined || v === '') continue;
    if (a.type === 'boolean') out.push(v === true || v === 'true' || v === 'True');
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push(a.type === 'number' ? Number(v) : typeof v === 'string' ? v : String(v));
  }
  return out;
}

/**
 * Graph JSON for attribute values (no references, no password): `undefined` names an attribute this
 * connector cannot write. Cleared single values are null, cleared lists [].
 */
export function toGraph(model: Model, attributes: Record<string, Value[]>): { body: Record<string, unknown>; readOnly: string[]; unknown: string[] } {
  const body: Record<string, unknown> = {};
  const readOnly: string[] = [];
  const unknown: string[] = [];
  for (const [name, values] of Object.entries(attributes)) {
    const a = model.schema.attributes[name];
    if (!a) {
      unknown.push(name);
      continue;
    }
    if (a.type === 'reference' || a.secret) continue;
    if (a.readOnly) {
      readOnly.push(name);
      continue;
    }
    const plain = values.filter((v) => !isReference(v));
    const wire = a.multiValued ? plain.map((v) => wireValue(v, a)) : plain.length > 0 ? wireValue(plain[0]!, a) : null;
    if (name.startsWith(EXT_PREFIX)) {
      if (!body[ON_PREM_EXT]) body[ON_PREM_EXT] = {};
      const ext = body[ON_PREM_EXT] as Record<string, unknown>;
      ext[name.slice(EXT_PREFIX.length)] = wire;
    } else {
      body[name] = wire;
    }
  }
  return { body, readOnly, unknown };
}

function wireValue(v: Value, a: AttributeSchema): unknown {
  if (a.type === 'boolean') return v === true || v === 'true' || v === 'True' || v === 1;
  if (a.type === 'date') {
    const d = new Date(String(v));
    return Number.isNaN(d.getTime()) ? String(v) : d.toISOString().replace(/\.000Z$/, 'Z');
  }
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  return typeof v === 'string' ? v : String(v);
}

/** The attribute a Graph property named in an error message stands for. */
export function attributeOfProperty(model: Model, property: string): string | undefined {
  if (property === 'passwordProfile' || property.startsWith('passwordProfile.')) return 'password';
  if (model.schema.attributes[property]) return property;
  const ext = property.replace(/^onPremisesExtensionAttributes[./]/, EXT_PREFIX);
  if (model.schema.attributes[ext]) return ext;
  const lower = property.toLowerCase();
  return Object.keys(model.schema.attributes).find((n) => n.toLowerCase() === lower);
}
