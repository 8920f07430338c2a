import { describe, expect, it } from 'vitest';
import {
  buildSchemaSet,
  DEFAULT_SCHEMAS,
  ENTERPRISE_USER_SCHEMA,
  GROUP_SCHEMA,
  toResourceTypeResource,
  toSchemaResource,
  USER_SCHEMA,
} from '../../src/scim/index.js';
import { thrown, USER } from './fixtures.js';

describe('the RFC 7643 schemas', () => {
  it('list User, Group and EnterpriseUser with their resource types', () => {
    expect(DEFAULT_SCHEMAS.schemas.map((s) => s.id)).toEqual([
      USER_SCHEMA,
      GROUP_SCHEMA,
      ENTERPRISE_USER_SCHEMA,
    ]);
    expect(DEFAULT_SCHEMAS.resourceTypes).toEqual([
      expect.objectContaining({
        name: 'User',
        endpoint: '/Users',
        schema: USER_SCHEMA,
        schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
      }),
      expect.objectContaining({
        name: 'Group',
        endpoint: '/Groups',
        schema: GROUP_SCHEMA,
        schemaExtensions: [],
      }),
    ]);
  });

  it('spell out every characteristic of every attribute', () => {
    for (const schema of DEFAULT_SCHEMAS.schemas) {
      const walk = (attrs: typeof schema.attributes) => {
        for (const a of attrs) {
          for (const key of [
            'name',
            'type',
            'multiValued',
            'description',
            'required',
            'caseExact',
            'mutability',
            'returned',
            'uniqueness',
          ]) {
            expect(a, `${schema.id}:${a.name}.${key}`).toHaveProperty(key);
          }
          if (a.type === 'reference') expect(a.referenceTypes?.length).toBeGreaterThan(0);
          if (a.subAttributes) walk(a.subAttributes);
        }
      };
      walk(schema.attributes);
    }
  });

  it('carry the characteristics the protocol depends on', () => {
    expect(USER.attribute('userName')?.definition).toMatchObject({
      required: true,
      uniqueness: 'server',
      caseExact: false,
    });
    expect(USER.attribute('password')?.definition).toMatchObject({
      mutability: 'writeOnly',
      returned: 'never',
    });
    expect(USER.attribute('id')?.definition).toMatchObject({
      mutability: 'readOnly',
      returned: 'always',
      caseExact: true,
    });
    expect(USER.attribute('groups')?.definition.mutability).toBe('readOnly');
    expect(
      DEFAULT_SCHEMAS.resource('group').attribute('members')?.subAttributes?.get('value')?.definition
        .mutability,
    ).toBe('immutable');
    expect(USER.attribute('meta')?.subAttributes?.get('lastmodified')?.definition.type).toBe('dateTime');
  });
});

describe('lookups', () => {
  it('are case-insensitive and understand URN prefixes', () => {
    expect(USER.attribute('USERNAME')?.name).toBe('userName');
    expect(USER.attribute('employeeNumber', ENTERPRISE_USER_SCHEMA.toUpperCase())?.container).toBe(
      ENTERPRISE_USER_SCHEMA,
    );
    expect(USER.resolveName(`${ENTERPRISE_USER_SCHEMA}:manager.value`)).toMatchObject({
      kind: 'attribute',
      attribute: { name: 'manager', container: ENTERPRISE_USER_SCHEMA },
      subAttribute: { name: 'value' },
    });
    expect(USER.resolveName(`${USER_SCHEMA}:name.GIVENNAME`)).toMatchObject({
      attribute: { name: 'name' },
      subAttribute: { name: 'givenName' },
    });
    expect(USER.resolveName(ENTERPRISE_USER_SCHEMA)).toMatchObject({ kind: 'extension' });
    expect(USER.resolveName('name.nothing')).toBeUndefined();
    expect(USER.splitUrn(`${ENTERPRISE_USER_SCHEMA}:manager.value`)).toEqual({
      schema: ENTERPRISE_USER_SCHEMA,
      rest: 'manager.value',
    });
  });
});

describe('custom schemas', () => {
  it('extend User and add resource types', () => {
    const set = buildSchemaSet({
      resourceTypes: [
        {
          name: 'Device',
          endpoint: '/Devices',
          schema: {
            id: 'urn:example:scim:schemas:Device',
            attributes: [{ name: 'serial', required: true, caseExact: true }],
          },
        },
      ],
      extensions: [
        {
          resourceType: 'user',
          schema: { id: 'urn:example:ext:1.0:User', attributes: [{ name: 'badge', type: 'integer' }] },
          required: true,
        },
      ],
    });
    expect(set.schemas.map((s) => s.id)).toContain('urn:example:ext:1.0:User');
    expect(set.resourceTypes.find((r) => r.name === 'User')?.schemaExtensions).toContainEqual({
      schema: 'urn:example:ext:1.0:User',
      required: true,
    });
    expect(set.resource('Device').attribute('SERIAL')?.definition).toMatchObject({
      required: true,
      caseExact: true,
      mutability: 'readWrite',
      returned: 'default',
    });
    expect(set.resource('User').attribute('badge')?.container).toBe('urn:example:ext:1.0:User');
  });

  const bad: [string, Parameters<typeof buildSchemaSet>[0]][] = [
    ['id not a URN', { extensions: [{ resourceType: 'User', schema: { id: 'ext', attributes: [] } }] }],
    [
      'bad attribute name',
      { extensions: [{ resourceType: 'User', schema: { id: 'urn:x', attributes: [{ name: '1bad' }] } }] },
    ],
    [
      'duplicate attribute',
      {
        extensions: [
          { resourceType: 'User', schema: { id: 'urn:x', attributes: [{ name: 'a' }, { name: 'A' }] } },
        ],
      },
    ],
    [
      'unknown type',
      {
        extensions: [
          {
            resourceType: 'User',
            schema: { id: 'urn:x', attributes: [{ name: 'a', type: 'text' as never }] },
          },
        ],
      },
    ],
    [
      'nested complex',
      {
        extensions: [
          {
            resourceType: 'User',
            schema: {
              id: 'urn:x',
              attributes: [{ name: 'a', subAttributes: [{ name: 'b', subAttributes: [{ name: 'c' }] }] }],
            },
          },
        ],
      },
    ],
    [
      'unknown resource type',
      { extensions: [{ resourceType: 'Printer', schema: { id: 'urn:x', attributes: [] } }] },
    ],
    [
      'schema defined twice',
      { extensions: [{ resourceType: 'User', schema: { id: USER_SCHEMA, attributes: [] } }] },
    ],
  ];
  it.each(bad)('%s is refused with SCIM_SCHEMA_INVALID', (_name, options) => {
    expect(thrown(() => buildSchemaSet(options))).toMatchObject({ code: 'SCIM_SCHEMA_INVALID' });
  });
});

describe('/Schemas and /ResourceTypes resources', () => {
  it('carry schemas and meta.location, and no null values (Entra asks for none)', () => {
    const user = toSchemaResource(
      DEFAULT_SCHEMAS.schema(USER_SCHEMA)!,
      'https://idsync.example.com/scim/v2/',
    );
    expect(user).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
      id: USER_SCHEMA,
      name: 'User',
      meta: { resourceType: 'Schema', location: `https://idsync.example.com/scim/v2/Schemas/${USER_SCHEMA}` },
    });
    expect(JSON.stringify(user)).not.toContain('null');
    const type = toResourceTypeResource(
      DEFAULT_SCHEMAS.resourceTypes[0]!,
      'https://idsync.example.com/scim/v2',
    );
    expect(type).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'User Account',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
      meta: {
        resourceType: 'ResourceType',
        location: 'https://idsync.example.com/scim/v2/ResourceTypes/User',
      },
    });
  });
});
