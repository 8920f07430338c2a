import { describe, expect, it } from 'vitest';
import {
  buildSchemaSet,
  compileProjection,
  ENTERPRISE_USER_SCHEMA,
  parseAttributeList,
  project,
  readAttribute,
} from '../../src/scim/index.js';
import { bjensen, GROUP, tourGuides, USER } from './fixtures.js';

const ENT = ENTERPRISE_USER_SCHEMA;

describe('project', () => {
  it('by default returns everything but "never" attributes (password)', () => {
    const out = project(bjensen(), {}, USER);
    const expected = bjensen();
    delete expected.password;
    expect(out).toEqual(expected);
  });

  it('attributes= returns those and the "always" ones (id, schemas)', () => {
    expect(project(bjensen(), { attributes: 'userName' }, USER)).toEqual({
      schemas: bjensen().schemas,
      id: '2819c223-7f76-453a-919d-413861904646',
      userName: 'bjensen@example.com',
    });
  });

  it('attributes= with sub-attributes, URN names and any case', () => {
    const out = project(
      bjensen(),
      {
        attributes: [
          'NAME.givenName',
          'emails.value',
          `${ENT}:manager.value`,
          `${ENT.toLowerCase()}:employeeNumber`,
        ],
      },
      USER,
    );
    expect(out).toEqual({
      schemas: bjensen().schemas,
      id: '2819c223-7f76-453a-919d-413861904646',
      name: { givenName: 'Barbara' },
      emails: [{ value: 'bjensen@example.com' }, { value: 'babs@jensen.org' }],
      [ENT]: { employeeNumber: '701984', manager: { value: '26118915-6090-4610-87e4-49d8ca9f808d' } },
    });
  });

  it('attributes= with a whole extension URN', () => {
    const out = project(bjensen(), { attributes: ENT }, USER);
    expect(out[ENT]).toEqual(bjensen()[ENT]);
    expect(out).not.toHaveProperty('userName');
  });

  it('asking for the password does not return it', () => {
    expect(project(bjensen(), { attributes: 'password,userName' }, USER)).not.toHaveProperty('password');
  });

  it('excludedAttributes=members leaves a group without members (Entra)', () => {
    const out = project(tourGuides(), { excludedAttributes: 'members' }, GROUP);
    expect(out).not.toHaveProperty('members');
    expect(out).toMatchObject({ id: tourGuides().id, displayName: 'Tour Guides' });
  });

  it('excludedAttributes cannot remove "always" attributes', () => {
    const out = project(bjensen(), { excludedAttributes: ['id', 'schemas', 'userName'] }, USER);
    expect(out).toHaveProperty('id');
    expect(out).toHaveProperty('schemas');
    expect(out).not.toHaveProperty('userName');
  });

  it('excludedAttributes with sub-attributes and extension attributes', () => {
    const out = project(
      bjensen(),
      { excludedAttributes: `name.formatted, emails.primary, ${ENT}:manager, meta` },
      USER,
    );
    expect(out.name).toEqual({ familyName: 'Jensen', givenName: 'Barbara' });
    expect(out.emails).toEqual([
      { value: 'bjensen@example.com', type: 'work' },
      { value: 'babs@jensen.org', type: 'home' },
    ]);
    expect(out[ENT]).not.toHaveProperty('manager');
    expect(out).not.toHaveProperty('meta');
  });

  it('unknown names are ignored', () => {
    expect(project(bjensen(), { attributes: 'shoeSize,userName' }, USER)).toHaveProperty('userName');
    expect(project(bjensen(), { excludedAttributes: 'shoeSize' }, USER)).toHaveProperty('userName');
  });

  it('"request" attributes come back only when named', () => {
    const set = buildSchemaSet({
      extensions: [
        {
          resourceType: 'User',
          schema: {
            id: 'urn:example:x:1.0:User',
            attributes: [{ name: 'audit', returned: 'request' }, { name: 'plain' }],
          },
        },
      ],
    });
    const schema = set.resource('User');
    const r = { id: '1', schemas: [], 'urn:example:x:1.0:User': { audit: 'a', plain: 'p' } };
    expect(project(r, {}, schema)).toEqual({
      id: '1',
      schemas: [],
      'urn:example:x:1.0:User': { plain: 'p' },
    });
    expect(project(r, { attributes: 'urn:example:x:1.0:User:audit' }, schema)).toEqual({
      id: '1',
      schemas: [],
      'urn:example:x:1.0:User': { audit: 'a' },
    });
  });

  it('does not modify the input, and a compiled projection gives the same result', () => {
    const r = bjensen();
    const copy = structuredClone(r);
    const req = { attributes: 'userName,emails' };
    expect(compileProjection(req, USER)(r)).toEqual(project(r, req, USER));
    expect(r).toEqual(copy);
  });
});

describe('parseAttributeList and readAttribute', () => {
  it('splits and trims', () => {
    expect(parseAttributeList(' userName, name.givenName ,,emails')).toEqual([
      'userName',
      'name.givenName',
      'emails',
    ]);
    expect(parseAttributeList(['a,b', 'c'])).toEqual(['a', 'b', 'c']);
    expect(parseAttributeList(undefined)).toEqual([]);
  });
  it('reads a value by name', () => {
    expect(readAttribute(bjensen(), 'name.givenName', USER)).toBe('Barbara');
    expect(readAttribute(bjensen(), 'emails.type', USER)).toEqual(['work', 'home']);
    expect(readAttribute(bjensen(), `${ENT}:manager.value`, USER)).toBe(
      '26118915-6090-4610-87e4-49d8ca9f808d',
    );
    expect(readAttribute(bjensen(), 'nothing', USER)).toBeUndefined();
  });
});
