/**
 * SCIM resources ⇄ directory attributes: the flat names rules use, what is kept beyond them, and how values
 * rules wrote appear in SCIM.
 */
import { describe, expect, it } from 'vitest';
import type { DirectoryObject } from '../../../src/directory/index.js';
import { ResourceMapper } from '../../../src/server/scim/resources.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const mapper = new ResourceMapper([
  {
    id: 'urn:example:ext:2.0:User',
    resourceType: 'User',
    attributes: [
      {
        name: 'badge',
        type: 'integer',
        multiValued: false,
        required: false,
        caseExact: false,
        mutability: 'readWrite',
        returned: 'default',
        uniqueness: 'none',
        flatName: 'badgeNumber',
      },
    ],
  },
]);

function object(attributes: DirectoryObject['attributes'], type: 'user' | 'group' = 'user'): DirectoryObject {
  return {
    id: 'u1',
    type,
    version: 3,
    created: '2026-01-01T00:00:00.000Z',
    lastModified: '2026-01-02T00:00:00.000Z',
    changeSeq: 9,
    attributes,
  };
}

describe('ResourceMapper', () => {
  it('maps the named SCIM paths to flat attributes', () => {
    const a = mapper.toAttributes('user', {
      userName: 'ann',
      name: { givenName: 'Ann', familyName: 'Lee', formatted: 'Ann Lee' },
      emails: [
        { value: 'ann@work.example', type: 'Work', primary: true },
        { value: 'ann@home.example', type: 'home' },
      ],
      phoneNumbers: [
        { value: '1', type: 'work' },
        { value: '2', type: 'mobile' },
      ],
      active: 'True',
      [ENTERPRISE]: { department: 'Sales', employeeNumber: 42, manager: { value: 'm1' } },
      'urn:example:ext:2.0:User': { badge: 7 },
    });
    expect(a).toMatchObject({
      userName: ['ann'],
      givenName: ['Ann'],
      familyName: ['Lee'],
      formattedName: ['Ann Lee'],
      email: ['ann@work.example'],
      phoneNumber: ['1'],
      mobile: ['2'],
      active: [true],
      department: ['Sales'],
      employeeNumber: ['42'],
      manager: [{ ref: 'm1' }],
      badgeNumber: [7],
    });
  });

  it('keeps the second entry of a mapped type as an entry of its own', () => {
    const a = mapper.toAttributes('user', {
      userName: 'x',
      emails: [
        { value: 'a@x', type: 'work' },
        { value: 'b@x', type: 'work' },
      ],
    });
    expect(a.email).toEqual(['a@x']);
    const r = mapper.toResource(object(a), 'https://h/scim/v2');
    expect(r.emails).toEqual([
      { value: 'a@x', type: 'work' },
      { value: 'b@x', type: 'work' },
    ]);
  });

  it('shows a work email a rule set as the primary work entry, and follows a rule that changes it', () => {
    const r = mapper.toResource(object({ userName: ['x'], email: ['rule@x'] }), 'https://h/scim/v2');
    expect(r.emails).toEqual([{ value: 'rule@x', type: 'work', primary: true }]);
    const written = mapper.toAttributes('user', {
      userName: 'x',
      emails: [{ value: 'old@x', type: 'work', primary: true, display: 'Work' }],
    });
    const changed = mapper.toResource(object({ ...written, email: ['new@x'] }), 'https://h/scim/v2');
    expect(changed.emails).toEqual([{ value: 'new@x', type: 'work', primary: true, display: 'Work' }]);
  });

  it('keeps unknown attributes and undeclared extensions, and names the extension in schemas', () => {
    const a = mapper.toAttributes('user', {
      userName: 'x',
      name: { givenName: 'A', phonetic: 'ei' },
      favouriteColour: 'green',
      'urn:other:ext': { tag: '1' },
    });
    const r = mapper.toResource(object(a), 'https://h/scim/v2');
    expect(r).toMatchObject({
      name: { givenName: 'A', phonetic: 'ei' },
      favouriteColour: 'green',
      'urn:other:ext': { tag: '1' },
    });
    expect(r.schemas).toContain('urn:other:ext');
  });

  it('stores a password but never returns it', () => {
    const a = mapper.toAttributes('user', { userName: 'x', password: 's3cret!' });
    expect(a.password).toEqual(['s3cret!']);
    expect(JSON.stringify(mapper.toResource(object(a), 'https://h/scim/v2'))).not.toContain('s3cret!');
  });

  it('builds meta, the manager reference and group members', () => {
    const u = mapper.toResource(object({ userName: ['x'], manager: [{ ref: 'm1' }] }), 'https://h/scim/v2', [
      { value: 'g1', display: 'Sales' },
    ]);
    expect(u.meta).toEqual({
      resourceType: 'User',
      created: '2026-01-01T00:00:00.000Z',
      lastModified: '2026-01-02T00:00:00.000Z',
      location: 'https://h/scim/v2/Users/u1',
      version: 'W/"3"',
    });
    expect(u[ENTERPRISE]).toEqual({ manager: { value: 'm1', $ref: 'https://h/scim/v2/Users/m1' } });
    expect(u.groups).toEqual([
      { value: 'g1', $ref: 'https://h/scim/v2/Groups/g1', display: 'Sales', type: 'direct' },
    ]);
    const g = mapper.toResource(
      object({ displayName: ['G'], members: [{ ref: 'a' }, { ref: 'b' }] }, 'group'),
      'https://h/scim/v2',
    );
    expect(g).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'G',
      members: [{ value: 'a' }, { value: 'b' }],
    });
    // told with the members' types and names, members are as RFC 7643 §4.2 describes them
    const told = mapper.toResource(
      object({ displayName: ['G'], members: [{ ref: 'a' }, { ref: 'b' }] }, 'group'),
      'https://h/scim/v2',
      undefined,
      [
        { id: 'a', type: 'user', display: 'Ann' },
        { id: 'b', type: 'group', display: 'Team' },
      ],
    );
    expect(told.members).toEqual([
      { value: 'a', $ref: 'https://h/scim/v2/Users/a', type: 'User', display: 'Ann' },
      { value: 'b', $ref: 'https://h/scim/v2/Groups/b', type: 'Group', display: 'Team' },
    ]);
  });

  it('names what a PUT replaces: SCIM-managed attributes, not those rules flow under other names', () => {
    expect(mapper.managedNames('user').has('email')).toBe(true);
    expect(mapper.managedNames('user').has('badgeNumber')).toBe(true);
    expect(mapper.managedNames('user').has('costCenterCode')).toBe(false);
    expect(mapper.managedNames('group').has('members')).toBe(true);
  });

  it('refuses values of the wrong shape', () => {
    expect(() => mapper.toAttributes('user', { userName: 'x', active: 'yes' })).toThrow(
      /active must be a boolean/,
    );
    expect(() => mapper.toAttributes('user', { userName: 'x', emails: 'a@x' })).toThrow(
      /emails must be an array/,
    );
    expect(() =>
      mapper.toAttributes('user', { userName: 'x', 'urn:example:ext:2.0:User': { badge: 1.5 } }),
    ).toThrow(/badge must be an integer/);
    expect(() => mapper.toAttributes('group', { displayName: 'G', members: [{ value: '' }] })).toThrow(
      /members\[0\]/,
    );
  });
});
