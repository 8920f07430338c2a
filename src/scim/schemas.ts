/**
 * SCIM schemas (RFC 7643 §7, §8.7.1) as data: the same objects are served at /Schemas and drive the filter,
 * PATCH, projection and sort code, so what the server says it supports is what it does.
 *
 * A `ResourceSchema` is one resource type compiled for lookups: core schema, extensions and the common
 * attributes (id, externalId, meta, schemas), all found case-insensitively (RFC 7643 §2.1).
 */
import { IdsyncError } from '../core/errors.js';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';
export const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';

export type AttributeType =
  | 'string'
  | 'boolean'
  | 'decimal'
  | 'integer'
  | 'dateTime'
  | 'reference'
  | 'complex'
  | 'binary';
export type Mutability = 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
export type Returned = 'always' | 'never' | 'default' | 'request';
export type Uniqueness = 'none' | 'server' | 'global';

/** An attribute with every characteristic of RFC 7643 §7 spelled out, as /Schemas returns it. */
export interface AttributeDefinition {
  name: string;
  type: AttributeType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: Mutability;
  returned: Returned;
  uniqueness: Uniqueness;
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: AttributeDefinition[];
}

export interface SchemaDefinition {
  id: string;
  name: string;
  description: string;
  attributes: AttributeDefinition[];
}

export interface ResourceTypeDefinition {
  id: string;
  name: string;
  endpoint: string;
  description: string;
  schema: string;
  schemaExtensions: { schema: string; required: boolean }[];
}

/** What a custom attribute needs to say; the rest takes RFC 7643 §2.2 defaults. */
export type AttributeInput = Partial<Omit<AttributeDefinition, 'subAttributes'>> & {
  name: string;
  subAttributes?: AttributeInput[];
};
export interface SchemaInput {
  id: string;
  name?: string;
  description?: string;
  attributes: AttributeInput[];
}

const TYPES = new Set<AttributeType>([
  'string',
  'boolean',
  'decimal',
  'integer',
  'dateTime',
  'reference',
  'complex',
  'binary',
]);
const MUTABILITIES = new Set<Mutability>(['readOnly', 'readWrite', 'immutable', 'writeOnly']);
const RETURNED = new Set<Returned>(['always', 'never', 'default', 'request']);
const UNIQUENESS = new Set<Uniqueness>(['none', 'server', 'global']);
/** RFC 7643 §2.1 ATTRNAME, plus "$ref" which the RFC itself uses. */
const ATTRIBUTE_NAME = /^(?:[A-Za-z][A-Za-z0-9_-]*|\$ref)$/;

/** Fills RFC 7643 §2.2 defaults: single-valued, optional, case-insensitive, readWrite, returned by default. */
export function defineAttribute(input: AttributeInput, where = input.name): AttributeDefinition {
  const fail = (what: string) => {
    throw new IdsyncError('SCIM_SCHEMA_INVALID', `attribute ${where}: ${what}`, { attribute: where });
  };
  if (typeof input.name !== 'string' || !ATTRIBUTE_NAME.test(input.name))
    fail('the name is not a valid attribute name');
  const type = input.type ?? (input.subAttributes ? 'complex' : 'string');
  if (!TYPES.has(type)) fail(`unknown type ${String(type)}`);
  const mutability = input.mutability ?? 'readWrite';
  if (!MUTABILITIES.has(mutability)) fail(`unknown mutability ${String(mutability)}`);
  const returned = input.returned ?? 'default';
  if (!RETURNED.has(returned)) fail(`unknown returned ${String(returned)}`);
  const uniqueness = input.uniqueness ?? 'none';
  if (!UNIQUENESS.has(uniqueness)) fail(`unknown uniqueness ${String(uniqueness)}`);
  const def: AttributeDefinition = {
    name: input.name,
    type,
    multiValued: input.multiValued ?? false,
    description: input.description ?? '',
    required: input.required ?? false,
    caseExact: input.caseExact ?? false,
    mutability,
    returned,
    uniqueness,
  };
  if (input.canonicalValues) def.canonicalValues = [...input.canonicalValues];
  if (type === 'reference')
    def.referenceTypes = input.referenceTypes ? [...input.referenceTypes] : ['external'];
  if (type === 'complex') {
    if (!input.subAttributes || input.subAttributes.length === 0)
      fail('a complex attribute needs subAttributes');
    const subs = input.subAttributes!.map((s) => {
      if (s.type === 'complex' || s.subAttributes)
        fail(`sub-attribute ${s.name}: complex attributes cannot nest`);
      return defineAttribute(s, `${where}.${s.name}`);
    });
    assertUniqueNames(subs, where);
    def.subAttributes = subs;
  } else if (input.subAttributes) {
    fail(`a ${type} attribute cannot have subAttributes`);
  }
  return def;
}

export function defineSchema(input: SchemaInput): SchemaDefinition {
  if (typeof input.id !== 'string' || !/^urn:[^\s]+$/i.test(input.id)) {
    throw new IdsyncError('SCIM_SCHEMA_INVALID', `schema ${String(input.id)}: the id must be a URN`);
  }
  const attributes = input.attributes.map((a) => defineAttribute(a, `${input.id}:${a.name}`));
  assertUniqueNames(attributes, input.id);
  return {
    id: input.id,
    name: input.name ?? input.id.slice(input.id.lastIndexOf(':') + 1),
    description: input.description ?? '',
    attributes,
  };
}

function assertUniqueNames(attributes: AttributeDefinition[], where: string): void {
  const seen = new Set<string>();
  for (const a of attributes) {
    const key = a.name.toLowerCase();
    if (seen.has(key)) {
      throw new IdsyncError('SCIM_SCHEMA_INVALID', `${where}: attribute ${a.name} is defined twice`);
    }
    seen.add(key);
  }
}

// ---------------------------------------------------------------------------------------------------------
// RFC 7643 §8.7.1 definitions

const str = (name: string, description: string, more: Partial<AttributeInput> = {}): AttributeInput => ({
  name,
  type: 'string',
  description,
  ...more,
});

/** value/display/type/primary: the shape RFC 7643 §2.4 gives most multi-valued attributes. */
function multiValued(
  name: string,
  description: string,
  types: string[],
  valueType: Partial<AttributeInput> = {},
): AttributeInput {
  return {
    name,
    type: 'complex',
    multiValued: true,
    description,
    subAttributes: [
      str('value', `The value of the ${name} entry.`, valueType),
      str('display', 'A human-readable name, primarily used for display purposes.'),
      str(
        'type',
        'A label indicating the function of the entry.',
        types.length > 0 ? { canonicalValues: types } : {},
      ),
      {
        name: 'primary',
        type: 'boolean',
        description: 'Whether this is the preferred entry; at most one entry may be primary.',
      },
    ],
  };
}

export const USER_SCHEMA_DEFINITION: SchemaDefinition = defineSchema({
  id: USER_SCHEMA,
  name: 'User',
  description: 'User Account',
  attributes: [
    str('userName', 'Unique identifier for the User, used to authenticate.', {
      required: true,
      uniqueness: 'server',
    }),
    {
      name: 'name',
      type: 'complex',
      description: "The components of the user's real name.",
      subAttributes: [
        str('formatted', 'The full name, formatted for display.'),
        str('familyName', 'The family name, or last name.'),
        str('givenName', 'The given name, or first name.'),
        str('middleName', 'The middle name(s).'),
        str('honorificPrefix', 'The honorific prefix(es), or title (Ms., Dr.).'),
        str('honorificSuffix', 'The honorific suffix(es) (III).'),
      ],
    },
    str('displayName', 'The name of the User, suitable for display to end-users.'),
    str('nickName', 'The casual way to address the user.'),
    {
      name: 'profileUrl',
      type: 'reference',
      referenceTypes: ['external'],
      description: "The user's online profile.",
    },
    str('title', "The user's title, such as 'Vice President'."),
    str('userType', 'The relationship between the organization and the user (Employee, Contractor).'),
    str('preferredLanguage', "The user's preferred written or spoken language (RFC 7231 Accept-Language)."),
    str('locale', "The user's default location for localization (language and country)."),
    str('timezone', "The user's time zone in IANA Time Zone database format."),
    { name: 'active', type: 'boolean', description: "The user's administrative status." },
    str('password', "The user's cleartext password, only ever written.", {
      mutability: 'writeOnly',
      returned: 'never',
    }),
    multiValued('emails', 'Email addresses for the user.', ['work', 'home', 'other']),
    multiValued('phoneNumbers', 'Phone numbers for the user.', [
      'work',
      'home',
      'mobile',
      'fax',
      'pager',
      'other',
    ]),
    multiValued('ims', 'Instant messaging addresses for the user.', [
      'aim',
      'gtalk',
      'icq',
      'xmpp',
      'msn',
      'skype',
      'qq',
      'yahoo',
    ]),
    multiValued('photos', 'URLs of photos of the user.', ['photo', 'thumbnail'], {
      type: 'reference',
      referenceTypes: ['external'],
    }),
    {
      name: 'addresses',
      type: 'complex',
      multiValued: true,
      description: 'Physical mailing addresses for this user.',
      subAttributes: [
        str('formatted', 'The full mailing address, formatted for display.'),
        str('streetAddress', 'The full street address component.'),
        str('locality', 'The city or locality component.'),
        str('region', 'The state or region component.'),
        str('postalCode', 'The zip code or postal code component.'),
        str('country', 'The country name component (ISO 3166-1 alpha-2).'),
        str('type', 'A label indicating the function of the address.', {
          canonicalValues: ['work', 'home', 'other'],
        }),
        { name: 'primary', type: 'boolean', description: 'Whether this is the preferred address.' },
      ],
    },
    {
      name: 'groups',
      type: 'complex',
      multiValued: true,
      mutability: 'readOnly',
      description:
        'The groups the user belongs to, directly or indirectly. Changed through the Group resource.',
      subAttributes: [
        str('value', 'The id of the group.', { mutability: 'readOnly' }),
        {
          name: '$ref',
          type: 'reference',
          referenceTypes: ['User', 'Group'],
          mutability: 'readOnly',
          description: 'The URI of the group.',
        },
        str('display', 'The name of the group.', { mutability: 'readOnly' }),
        str('type', 'How the membership is held.', {
          canonicalValues: ['direct', 'indirect'],
          mutability: 'readOnly',
        }),
      ],
    },
    multiValued('entitlements', 'Entitlements held by the user.', []),
    multiValued('roles', 'Roles held by the user.', []),
    multiValued('x509Certificates', 'X.509 certificates issued to the user.', [], { type: 'binary' }),
  ],
});

export const ENTERPRISE_USER_SCHEMA_DEFINITION: SchemaDefinition = defineSchema({
  id: ENTERPRISE_USER_SCHEMA,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    str('employeeNumber', 'A string identifier, typically numeric or alphanumeric, assigned to a person.'),
    str('costCenter', 'The name of a cost center.'),
    str('organization', 'The name of an organization.'),
    str('division', 'The name of a division.'),
    str('department', 'The name of a department.'),
    {
      name: 'manager',
      type: 'complex',
      description: "The user's manager.",
      subAttributes: [
        str('value', 'The id of the SCIM resource representing the manager.'),
        {
          name: '$ref',
          type: 'reference',
          referenceTypes: ['User'],
          description: 'The URI of the SCIM resource representing the manager.',
        },
        str('displayName', 'The displayName of the manager.', { mutability: 'readOnly' }),
      ],
    },
  ],
});

export const GROUP_SCHEMA_DEFINITION: SchemaDefinition = defineSchema({
  id: GROUP_SCHEMA,
  name: 'Group',
  description: 'Group',
  attributes: [
    str('displayName', 'A human-readable name for the Group.', { required: true }),
    {
      name: 'members',
      type: 'complex',
      multiValued: true,
      description: 'A list of members of the Group.',
      subAttributes: [
        str('value', 'The id of the member.', { mutability: 'immutable' }),
        {
          name: '$ref',
          type: 'reference',
          referenceTypes: ['User', 'Group'],
          mutability: 'immutable',
          description: 'The URI of the member resource.',
        },
        str('display', 'The name of the member.', { mutability: 'immutable' }),
        str('type', 'The type of the member.', {
          canonicalValues: ['User', 'Group'],
          mutability: 'immutable',
        }),
      ],
    },
  ],
});

/**
 * id, externalId, meta and schemas (RFC 7643 §3.1): part of every resource, not of any schema's /Schemas
 * content, but filters, PATCH and projection must know their characteristics.
 */
export const COMMON_ATTRIBUTES: readonly AttributeDefinition[] = [
  defineAttribute(
    str('id', 'The identifier the service provider gave the resource.', {
      caseExact: true,
      mutability: 'readOnly',
      returned: 'always',
      uniqueness: 'server',
    }),
  ),
  defineAttribute(
    str('externalId', 'The identifier the provisioning client gave the resource.', { caseExact: true }),
  ),
  defineAttribute({
    name: 'schemas',
    type: 'reference',
    multiValued: true,
    caseExact: true,
    returned: 'always',
    referenceTypes: ['uri'],
    description: 'The schemas the resource conforms to.',
  }),
  defineAttribute({
    name: 'meta',
    type: 'complex',
    mutability: 'readOnly',
    description: 'Resource metadata.',
    subAttributes: [
      str('resourceType', 'The name of the resource type.', { caseExact: true, mutability: 'readOnly' }),
      {
        name: 'created',
        type: 'dateTime',
        mutability: 'readOnly',
        description: 'When the resource was added.',
      },
      {
        name: 'lastModified',
        type: 'dateTime',
        mutability: 'readOnly',
        description: 'When it last changed.',
      },
      {
        name: 'location',
        type: 'reference',
        referenceTypes: ['uri'],
        caseExact: true,
        mutability: 'readOnly',
        description: 'The URI of the resource.',
      },
      str('version', 'The version (ETag) of the resource.', { caseExact: true, mutability: 'readOnly' }),
    ],
  }),
];

export const USER_RESOURCE_TYPE: ResourceTypeDefinition = {
  id: 'User',
  name: 'User',
  endpoint: '/Users',
  description: 'User Account',
  schema: USER_SCHEMA,
  schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
};

export const GROUP_RESOURCE_TYPE: ResourceTypeDefinition = {
  id: 'Group',
  name: 'Group',
  endpoint: '/Groups',
  description: 'Group',
  schema: GROUP_SCHEMA,
  schemaExtensions: [],
};

// ---------------------------------------------------------------------------------------------------------
// Compiled lookups

/** An attribute found by name, with where it lives in a resource. */
export interface AttributeRef {
  readonly definition: AttributeDefinition;
  /** canonical name, as the schema spells it */
  readonly name: string;
  /** URN of the schema that defines the attribute (the core schema for common attributes) */
  readonly schema: string;
  /** the extension URN whose object holds the attribute; undefined for core and common attributes */
  readonly container: string | undefined;
  /** the complex attribute this is a sub-attribute of */
  readonly parent: AttributeRef | undefined;
  /** lower-case name → sub-attribute, for complex attributes */
  readonly subAttributes: ReadonlyMap<string, AttributeRef> | undefined;
}

/** What a `[urn:]attr[.sub]` name refers to. */
export type NameTarget =
  | { kind: 'attribute'; attribute: AttributeRef; subAttribute: AttributeRef | undefined }
  /** a whole extension object, as in `attributes=urn:...:enterprise:2.0:User` */
  | { kind: 'extension'; schema: SchemaDefinition };

function compileAttribute(
  def: AttributeDefinition,
  schema: string,
  container: string | undefined,
  parent: AttributeRef | undefined,
): AttributeRef {
  const subs = def.subAttributes ? new Map<string, AttributeRef>() : undefined;
  const ref: AttributeRef = {
    definition: def,
    name: def.name,
    schema,
    container,
    parent,
    subAttributes: subs,
  };
  for (const s of def.subAttributes ?? [])
    subs!.set(s.name.toLowerCase(), compileAttribute(s, schema, container, ref));
  return ref;
}

/** One resource type, compiled for case-insensitive lookups. Build with `SchemaSet.resource(name)`. */
export class ResourceSchema {
  readonly schemaIds: readonly string[];
  private readonly coreAttributes = new Map<string, AttributeRef>();
  private readonly extensionAttributes = new Map<string, Map<string, AttributeRef>>();
  private readonly extensionsByUrn = new Map<string, SchemaDefinition>();
  /** schema URNs, longest first, lower case: for splitting `urn:...:attr` names */
  private readonly urns: { lower: string; id: string }[];

  constructor(
    readonly resourceType: ResourceTypeDefinition,
    readonly core: SchemaDefinition,
    readonly extensions: readonly SchemaDefinition[],
  ) {
    for (const a of COMMON_ATTRIBUTES)
      this.coreAttributes.set(a.name.toLowerCase(), compileAttribute(a, core.id, undefined, undefined));
    for (const a of core.attributes)
      this.coreAttributes.set(a.name.toLowerCase(), compileAttribute(a, core.id, undefined, undefined));
    for (const ext of extensions) {
      const map = new Map<string, AttributeRef>();
      for (const a of ext.attributes)
        map.set(a.name.toLowerCase(), compileAttribute(a, ext.id, ext.id, undefined));
      this.extensionAttributes.set(ext.id.toLowerCase(), map);
      this.extensionsByUrn.set(ext.id.toLowerCase(), ext);
    }
    this.schemaIds = [core.id, ...extensions.map((e) => e.id)];
    this.urns = this.schemaIds
      .map((id) => ({ lower: id.toLowerCase(), id }))
      .sort((a, b) => b.lower.length - a.lower.length);
  }

  /**
   * A top-level attribute. With a schema URN, only that schema's attributes; without, the core schema and the
   * common attributes, then (leniently, as many clients send them unqualified) an extension attribute whose
   * name no other schema uses.
   */
  attribute(name: string, schema?: string): AttributeRef | undefined {
    const key = name.toLowerCase();
    if (schema !== undefined) {
      const s = schema.toLowerCase();
      if (s === this.core.id.toLowerCase()) return this.coreAttributes.get(key);
      return this.extensionAttributes.get(s)?.get(key);
    }
    const found = this.coreAttributes.get(key);
    if (found) return found;
    let only: AttributeRef | undefined;
    for (const map of this.extensionAttributes.values()) {
      const a = map.get(key);
      if (a) {
        if (only) return undefined;
        only = a;
      }
    }
    return only;
  }

  /** An extension schema of this resource type, by URN (any case). */
  extension(urn: string): SchemaDefinition | undefined {
    return this.extensionsByUrn.get(urn.toLowerCase());
  }

  /** Whether `urn` (any case) is this type's core schema or one of its extensions; gives its canonical id. */
  schemaId(urn: string): string | undefined {
    const lower = urn.toLowerCase();
    return this.urns.find((u) => u.lower === lower)?.id;
  }

  /**
   * Splits `urn:...:User:name.givenName` into the schema URN and the rest, knowing this type's URNs (a URN
   * has colons and dots of its own). Unknown URNs split at the last colon.
   */
  splitUrn(text: string): { schema: string | undefined; rest: string } {
    if (!/^urn:/i.test(text)) return { schema: undefined, rest: text };
    const lower = text.toLowerCase();
    for (const u of this.urns) {
      if (lower.startsWith(u.lower) && text.charCodeAt(u.lower.length) === 58 /* : */) {
        return { schema: u.id, rest: text.slice(u.lower.length + 1) };
      }
    }
    const colon = text.lastIndexOf(':');
    return { schema: text.slice(0, colon), rest: text.slice(colon + 1) };
  }

  /** Resolves an attribute name as used in attributes=, sortBy= and PATCH value keys: `[urn:]attr[.sub]`. */
  resolveName(text: string): NameTarget | undefined {
    const ext = this.extension(text);
    if (ext) return { kind: 'extension', schema: ext };
    const { schema, rest } = this.splitUrn(text);
    const dot = rest.indexOf('.');
    const attrName = dot < 0 ? rest : rest.slice(0, dot);
    const attribute = this.attribute(attrName, schema);
    if (!attribute) return undefined;
    if (dot < 0) return { kind: 'attribute', attribute, subAttribute: undefined };
    const subAttribute = attribute.subAttributes?.get(rest.slice(dot + 1).toLowerCase());
    if (!subAttribute) return undefined;
    return { kind: 'attribute', attribute, subAttribute };
  }

  /** Every top-level attribute: common, core, then each extension's. */
  *allAttributes(): IterableIterator<AttributeRef> {
    yield* this.coreAttributes.values();
    for (const map of this.extensionAttributes.values()) yield* map.values();
  }
}

export interface ExtensionInput {
  /** the resource type the extension extends, by name: "User", "Group" or a custom type */
  resourceType: string;
  schema: SchemaInput | SchemaDefinition;
  required?: boolean;
}

export interface ResourceTypeInput {
  name: string;
  endpoint: string;
  description?: string;
  schema: SchemaInput | SchemaDefinition;
}

export interface SchemaSetOptions {
  /** include the enterprise User extension (default true) */
  enterpriseUser?: boolean;
  /** custom extensions of User, Group or custom types */
  extensions?: ExtensionInput[];
  /** custom resource types with their own core schema */
  resourceTypes?: ResourceTypeInput[];
}

/** Every schema and resource type the server offers: the /Schemas and /ResourceTypes content. */
export class SchemaSet {
  readonly schemas: readonly SchemaDefinition[];
  readonly resourceTypes: readonly ResourceTypeDefinition[];
  private readonly compiled = new Map<string, ResourceSchema>();

  constructor(schemas: SchemaDefinition[], resourceTypes: ResourceTypeDefinition[]) {
    this.schemas = schemas;
    this.resourceTypes = resourceTypes;
    const byId = new Map(schemas.map((s) => [s.id.toLowerCase(), s]));
    for (const rt of resourceTypes) {
      const core = byId.get(rt.schema.toLowerCase());
      if (!core)
        throw new IdsyncError('SCIM_SCHEMA_INVALID', `resource type ${rt.name}: unknown schema ${rt.schema}`);
      const exts = rt.schemaExtensions.map((e) => {
        const s = byId.get(e.schema.toLowerCase());
        if (!s)
          throw new IdsyncError(
            'SCIM_SCHEMA_INVALID',
            `resource type ${rt.name}: unknown extension ${e.schema}`,
          );
        return s;
      });
      this.compiled.set(rt.name.toLowerCase(), new ResourceSchema(rt, core, exts));
    }
  }

  /** The compiled schema of a resource type, by name (any case): "User", "Group". */
  resource(name: string): ResourceSchema {
    const found = this.compiled.get(name.toLowerCase());
    if (!found) throw new IdsyncError('SCIM_SCHEMA_UNKNOWN', `no resource type ${name}`);
    return found;
  }

  schema(id: string): SchemaDefinition | undefined {
    const lower = id.toLowerCase();
    return this.schemas.find((s) => s.id.toLowerCase() === lower);
  }
}

/**
 * Builds the schema set from the RFC's User, EnterpriseUser and Group plus custom extensions and resource
 * types declared in configuration. Problems (bad names, duplicate schemas, unknown resource types) throw an
 * IdsyncError with code SCIM_SCHEMA_INVALID naming the schema and attribute.
 */
export function buildSchemaSet(options: SchemaSetOptions = {}): SchemaSet {
  const schemas: SchemaDefinition[] = [USER_SCHEMA_DEFINITION, GROUP_SCHEMA_DEFINITION];
  const user: ResourceTypeDefinition = { ...USER_RESOURCE_TYPE, schemaExtensions: [] };
  const group: ResourceTypeDefinition = { ...GROUP_RESOURCE_TYPE, schemaExtensions: [] };
  const types = [user, group];
  if (options.enterpriseUser !== false) {
    schemas.push(ENTERPRISE_USER_SCHEMA_DEFINITION);
    user.schemaExtensions.push({ schema: ENTERPRISE_USER_SCHEMA, required: false });
  }
  const addSchema = (input: SchemaInput | SchemaDefinition): SchemaDefinition => {
    const def = defineSchema(input as SchemaInput);
    if (schemas.some((s) => s.id.toLowerCase() === def.id.toLowerCase())) {
      throw new IdsyncError('SCIM_SCHEMA_INVALID', `schema ${def.id} is defined twice`);
    }
    schemas.push(def);
    return def;
  };
  for (const rt of options.resourceTypes ?? []) {
    if (types.some((t) => t.name.toLowerCase() === rt.name.toLowerCase())) {
      throw new IdsyncError('SCIM_SCHEMA_INVALID', `resource type ${rt.name} is defined twice`);
    }
    const def = addSchema(rt.schema);
    types.push({
      id: rt.name,
      name: rt.name,
      endpoint: rt.endpoint,
      description: rt.description ?? rt.name,
      schema: def.id,
      schemaExtensions: [],
    });
  }
  for (const ext of options.extensions ?? []) {
    const target = types.find((t) => t.name.toLowerCase() === ext.resourceType.toLowerCase());
    if (!target) {
      throw new IdsyncError(
        'SCIM_SCHEMA_INVALID',
        `extension ${ext.schema.id}: no resource type ${ext.resourceType}`,
      );
    }
    const def = addSchema(ext.schema);
    target.schemaExtensions.push({ schema: def.id, required: ext.required ?? false });
  }
  return new SchemaSet(schemas, types);
}

/** The schema set of RFC 7643 alone: User with the enterprise extension, and Group. */
export const DEFAULT_SCHEMAS: SchemaSet = buildSchemaSet();

/** A schema as a /Schemas resource (RFC 7643 §7, §8.7): the definition with its schemas and meta. */
export function toSchemaResource(schema: SchemaDefinition, baseUrl: string): Record<string, unknown> {
  return {
    schemas: [SCHEMA_SCHEMA],
    id: schema.id,
    name: schema.name,
    description: schema.description,
    attributes: schema.attributes,
    meta: { resourceType: 'Schema', location: `${trimSlash(baseUrl)}/Schemas/${schema.id}` },
  };
}

/** A resource type as a /ResourceTypes resource (RFC 7643 §6, §8.6). */
export function toResourceTypeResource(
  type: ResourceTypeDefinition,
  baseUrl: string,
): Record<string, unknown> {
  return {
    schemas: [RESOURCE_TYPE_SCHEMA],
    id: type.id,
    name: type.name,
    endpoint: type.endpoint,
    description: type.description,
    schema: type.schema,
    schemaExtensions: type.schemaExtensions,
    meta: { resourceType: 'ResourceType', location: `${trimSlash(baseUrl)}/ResourceTypes/${type.id}` },
  };
}

function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}
