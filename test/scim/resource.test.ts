import { describe, expect, it } from 'vitest';
import {
  buildSchemaSet,
  ENTERPRISE_USER_SCHEMA,
  GROUP_SCHEMA,
  prepareResource,
  ScimError,
  USER_SCHEMA,
} from '../../src/scim/index.js';
import { bjensen, GROUP, thrown, USER } from './fixtures.js';

describe('prepareResource', () => {
  it("takes Entra's create-user body (roles: [], meta.resourceType) as it is meant", () => {
    const body = {
      schemas: [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1',
      active: true,
      emails: [
        { primary: true, type: 'work', value: 'Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com' },
      ],
      meta: { resourceType: 'User' },
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
      roles: [],
    };
    expect(prepareResource(body, USER)).toEqual({
      schemas: [USER_SCHEMA],
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1',
      active: true,
      emails: [
        { primary: true, type: 'work', value: 'Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com' },
      ],
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
    });
  });

  it("takes Entra's create-group body with its ADSCIM schema URN", () => {
    const body = {
      schemas: [GROUP_SCHEMA, 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
      externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
      displayName: 'displayName',
      meta: { resourceType: 'Group' },
    };
    expect(prepareResource(body, GROUP)).toEqual({
      schemas: [GROUP_SCHEMA],
      externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
      displayName: 'displayName',
    });
  });

  it('drops read-only values, converts types and spells names as the schema does', () => {
    const body = { ...bjensen(), ACTIVE: 'False', USERNAME: undefined };
    const out = prepareResource(body, USER);
    expect(out).not.toHaveProperty('id');
    expect(out).not.toHaveProperty('meta');
    expect(out).not.toHaveProperty('groups');
    expect(out.active).toBe(false);
    expect(out).not.toHaveProperty('ACTIVE');
    expect((out[ENTERPRISE_USER_SCHEMA] as Record<string, unknown>).manager).toEqual({
      value: '26118915-6090-4610-87e4-49d8ca9f808d',
    });
    expect(out.schemas).toEqual([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
    expect(out.password).toBe('t1meMa$heen');
  });

  it('accepts URN-qualified attribute names and files extension ones under their extension', () => {
    const out = prepareResource(
      {
        schemas: [USER_SCHEMA],
        [`${USER_SCHEMA}:userName`]: 'u',
        [`${ENTERPRISE_USER_SCHEMA}:department`]: 'Ops',
      },
      USER,
    );
    expect(out).toEqual({
      schemas: [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      userName: 'u',
      [ENTERPRISE_USER_SCHEMA]: { department: 'Ops' },
    });
  });

  const bad: [string, unknown, string, RegExp][] = [
    ['not an object', [], 'invalidSyntax', /object/],
    ['no schemas', { userName: 'u' }, 'invalidSyntax', /schemas/],
    ['wrong core schema', { schemas: [GROUP_SCHEMA], userName: 'u' }, 'invalidSyntax', /User/],
    [
      'missing userName',
      { schemas: [USER_SCHEMA], displayName: 'x' },
      'invalidValue',
      /userName is required/,
    ],
    ['empty userName', { schemas: [USER_SCHEMA], userName: '' }, 'invalidValue', /userName is required/],
    ['unknown attribute', { schemas: [USER_SCHEMA], userName: 'u', shoeSize: 9 }, 'invalidValue', /shoeSize/],
    [
      'wrong type',
      { schemas: [USER_SCHEMA], userName: 'u', active: 'maybe' },
      'invalidValue',
      /active must be a boolean/,
    ],
    [
      'two primaries',
      {
        schemas: [USER_SCHEMA],
        userName: 'u',
        emails: [
          { value: 'a', primary: true },
          { value: 'b', primary: 'True' },
        ],
      },
      'invalidValue',
      /primary/,
    ],
    [
      'extension not an object',
      { schemas: [USER_SCHEMA], userName: 'u', [ENTERPRISE_USER_SCHEMA]: 'x' },
      'invalidValue',
      /object/,
    ],
  ];
  it.each(bad)('%s → %s', (_name, body, scimType, detail) => {
    const err = thrown(() => prepareResource(body, USER));
    expect(err).toBeInstanceOf(ScimError);
    expect(err).toMatchObject({ status: 400, scimType });
    expect((err as ScimError).detail).toMatch(detail);
  });

  it('ignores unknown attributes when asked', () => {
    expect(
      prepareResource({ schemas: [USER_SCHEMA], userName: 'u', shoeSize: 9 }, USER, {
        unknownAttributes: 'ignore',
      }),
    ).toEqual({
      schemas: [USER_SCHEMA],
      userName: 'u',
    });
  });

  it('refuses a PUT that changes an immutable attribute', () => {
    const set = buildSchemaSet({
      extensions: [
        {
          resourceType: 'User',
          schema: { id: 'urn:example:hr:1.0:User', attributes: [{ name: 'badge', mutability: 'immutable' }] },
        },
      ],
    });
    const schema = set.resource('User');
    const existing = { schemas: [USER_SCHEMA], userName: 'u', 'urn:example:hr:1.0:User': { badge: 'A1' } };
    const same = prepareResource(existing, schema, { existing });
    expect(same['urn:example:hr:1.0:User']).toEqual({ badge: 'A1' });
    const changed = { ...existing, 'urn:example:hr:1.0:User': { badge: 'B2' } };
    expect(thrown(() => prepareResource(changed, schema, { existing }))).toMatchObject({
      scimType: 'mutability',
    });
  });
});
