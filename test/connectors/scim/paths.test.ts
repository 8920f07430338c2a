/** Entra-style attribute paths ↔ SCIM resources (a unit: pure functions, no server). */
import { describe, expect, it } from 'vitest';
import { buildResource, equalityFilter, flatten, formatPath, isFilterable, parsePath, pathProblem } from '../../../src/connectors/scim/paths.js';
import { parseFilter } from '../../../src/scim/index.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const flat = { references: new Set([`${ENT}:manager`]), booleans: new Set(['active']), extraPaths: [] };
const build = { coreSchema: 'urn:ietf:params:scim:schemas:core:2.0:User', booleansAsStrings: false, multiValued: (n: string) => n === 'roles' };

describe('parsePath', () => {
  it('reads simple, dotted, filtered and extension paths', () => {
    expect(parsePath('userName')).toEqual({ attr: 'userName' });
    expect(parsePath('name.givenName')).toEqual({ attr: 'name', sub: 'givenName' });
    expect(parsePath('emails[type eq "work"].value')).toEqual({ attr: 'emails', filter: { attr: 'type', value: 'work' }, sub: 'value' });
    expect(parsePath('roles[primary eq True].value')).toEqual({ attr: 'roles', filter: { attr: 'primary', value: true }, sub: 'value' });
    expect(parsePath(`${ENT}:department`)).toEqual({ urn: ENT, attr: 'department' });
    // a colon inside the quoted selector does not end the URN
    expect(parsePath('urn:example:ext:1.0:User:ims[type eq "a:b"].value')).toEqual({ urn: 'urn:example:ext:1.0:User', attr: 'ims', filter: { attr: 'type', value: 'a:b' }, sub: 'value' });
    expect(parsePath('emails[type eq work')).toBeNull();
    expect(parsePath('two words')).toBeNull();
  });

  it('formats back and builds RFC filters', () => {
    expect(formatPath(parsePath('emails[type eq "work"].value')!)).toBe('emails[type eq "work"].value');
    expect(equalityFilter(parsePath('emails[type eq "work"].value')!, 'a"b@x')).toBe('emails[type eq "work" and value eq "a\\"b@x"]');
    expect(equalityFilter(parsePath(`${ENT}:employeeNumber`)!, '7')).toBe(`${ENT}:employeeNumber eq "7"`);
  });
});

describe('pathProblem: what the connector cannot send says why', () => {
  it('accepts the shapes it supports, in any spelling the RFC parser reads', () => {
    for (const name of ['userName', 'name.givenName', 'emails[type eq "work"].value', 'emails[ type EQ "work" ]', 'roles[primary eq True].value', `${ENT}:manager`, 'members.$ref']) {
      expect(pathProblem(name)).toBeUndefined();
    }
    expect(parsePath('emails[ type EQ "work" ]')).toEqual({ attr: 'emails', filter: { attr: 'type', value: 'work' } });
  });

  const refused: [string, RegExp][] = [
    ['emails[type eq "work" and primary eq true].value', /one equality.*"and"/],
    ['emails[type eq "work" or type eq "home"].value', /"or"/],
    ['emails[type ne "work"].value', /"ne"/],
    ['emails[type pr].value', /"pr"/],
    ['emails[not (type eq "work")].value', /"not"/],
    ['emails[emails.type eq "work"].value', /not on emails\.type/],
    ['phoneNumbers[type eq 1].value', /"string", true or false, not 1/],
    ['emails[type eq null].value', /not null/],
    ['emails[type eq work].value', /not a SCIM attribute path.*invalid path/],
    ['emails[type eq "work"', /not a SCIM attribute path.*missing "\]"/],
    [' userName', /white space/],
    ['a:b', /not a SCIM attribute path/],
    ['urn:department', /schema URN/],
  ];
  it.each(refused)('%j', (name, reason) => {
    expect(parsePath(name)).toBeNull();
    expect(pathProblem(name)).toMatch(reason);
    expect(pathProblem(name)).toContain(name.trim());
  });

  it('builds filters the RFC parser reads back to the same value, whatever the value holds', () => {
    for (const value of ['a"b', 'back\\slash', 'line\nbreak', '] or userName pr', 'é🙂']) {
      const filter = parseFilter(equalityFilter(parsePath('emails[type eq "work"].value')!, value));
      expect(filter).toMatchObject({ type: 'valuePath', filter: { type: 'and', filters: [{ value: 'work' }, { value }] } });
      expect(parseFilter(equalityFilter(parsePath(`${ENT}:employeeNumber`)!, value))).toMatchObject({ type: 'compare', value });
    }
  });
});

describe('isFilterable', () => {
  it('lets strings, booleans and finite numbers into a filter, nothing else', () => {
    expect(['a', '', true, false, 0, -1.5].every(isFilterable)).toBe(true);
    expect([Number.NaN, Number.POSITIVE_INFINITY, { ref: 'id' }, new Uint8Array([1])].some(isFilterable)).toBe(false);
  });
});

describe('resources', () => {
  it('builds a resource from flat attributes and reads it back to the same names', () => {
    const attributes = {
      userName: ['a@x'],
      active: [false],
      'name.givenName': ['A'],
      'emails[type eq "work"].value': ['a@x'],
      'emails[type eq "home"].value': ['a@home'],
      'addresses[type eq "work"].streetAddress': ['1 Road'],
      roles: ['r1', 'r2'],
      [`${ENT}:department`]: ['D'],
      [`${ENT}:manager`]: [{ ref: 'boss-id' }],
    };
    const { resource, invalid } = buildResource(attributes, build);
    expect(invalid).toEqual([]);
    expect(resource).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENT],
      userName: 'a@x',
      active: false,
      name: { givenName: 'A' },
      emails: [{ type: 'work', value: 'a@x' }, { type: 'home', value: 'a@home' }],
      addresses: [{ type: 'work', streetAddress: '1 Road' }],
      roles: ['r1', 'r2'],
      [ENT]: { department: 'D', manager: { value: 'boss-id' } },
    });
    expect(flatten({ ...resource, id: 'x', meta: {} }, flat)).toEqual(attributes);
  });

  it('reads "True"/"False" strings as booleans, skips readOnly noise, and produces configured extra paths', () => {
    const r = { id: '1', meta: { lastModified: 'x' }, active: 'False', groups: [{ value: 'g' }], roles: [{ value: 'admin', primary: 'True' }, { value: 'user' }] };
    const out = flatten(r, { ...flat, extraPaths: [parsePath('roles[primary eq true].value')!] });
    expect(out.active).toEqual([false]);
    expect(out.groups).toBeUndefined();
    expect(out['roles[primary eq true].value']).toEqual(['admin']);
    expect(out['roles.value']).toEqual(['admin', 'user']);
  });

  it('sends booleans as strings where the compat switch says so', () => {
    expect(buildResource({ active: [true] }, { ...build, booleansAsStrings: true }).resource.active).toBe('True');
  });
});
