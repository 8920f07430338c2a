import { describe, expect, it } from 'vitest';
import {
  applyPatch,
  buildSchemaSet,
  ENTERPRISE_USER_SCHEMA,
  type PatchOperation,
  parsePatchRequest,
  ScimError,
  splitMemberOperations,
} from '../../src/scim/index.js';
import { bjensen, GROUP, thrown, tourGuides, USER } from './fixtures.js';

const BABS = '2819c223-7f76-453a-919d-413861904646';
const MANDY = '902c246b-6245-4190-8e05-00816be7344a';
const ENT = ENTERPRISE_USER_SCHEMA;

const patchUser = (ops: PatchOperation[], resource = bjensen()) => applyPatch(resource, ops, USER);
const patchGroup = (ops: PatchOperation[], resource = tourGuides()) => applyPatch(resource, ops, GROUP);
const memberIds = (g: Record<string, unknown>) =>
  ((g.members as { value: string }[] | undefined) ?? []).map((m) => m.value);

describe('RFC 7644 §3.5.2.1 add', () => {
  it('adds a member with the full member object', () => {
    const { resource, changed } = patchGroup([
      {
        op: 'add',
        path: 'members',
        value: [{ display: 'Jim', $ref: 'https://example.com/v2/Users/j', value: 'j' }],
      },
    ]);
    expect(changed).toBe(true);
    expect(memberIds(resource)).toEqual([BABS, MANDY, 'j']);
    expect((resource.members as unknown[])[2]).toEqual({
      display: 'Jim',
      $ref: 'https://example.com/v2/Users/j',
      value: 'j',
    });
  });

  it('adds attributes without a path, names in any case (the RFC writes "nickname")', () => {
    const { resource } = patchUser([
      { op: 'add', value: { emails: [{ value: 'babs@jensen.net', type: 'home' }], nickname: 'Barb' } },
    ]);
    expect(resource.nickName).toBe('Barb');
    expect(resource).not.toHaveProperty('nickname');
    expect((resource.emails as unknown[]).length).toBe(3);
  });

  it('replaces a single-valued attribute', () => {
    expect(patchUser([{ op: 'add', path: 'title', value: 'Captain' }]).resource.title).toBe('Captain');
  });

  it('creates an attribute that did not exist', () => {
    expect(patchUser([{ op: 'add', path: 'locale', value: 'en-US' }]).resource.locale).toBe('en-US');
  });

  it('merges sub-attributes of a complex attribute', () => {
    const { resource } = patchUser([{ op: 'add', path: 'name', value: { middleName: 'Jane' } }]);
    expect(resource.name).toEqual({
      formatted: 'Ms. Barbara J Jensen III',
      familyName: 'Jensen',
      givenName: 'Barbara',
      middleName: 'Jane',
    });
  });

  it('does not duplicate a value already present (members by value; emails by value and type, case folded)', () => {
    const g = patchGroup([{ op: 'add', path: 'members', value: [{ value: BABS }] }]);
    expect(g.changed).toBe(false);
    expect(memberIds(g.resource)).toEqual([BABS, MANDY]);
    const u = patchUser([{ op: 'add', path: 'emails', value: [{ value: 'BABS@jensen.org', type: 'home' }] }]);
    expect((u.resource.emails as unknown[]).length).toBe(2);
  });

  it('accepts one value object for a multi-valued attribute', () => {
    const g = patchGroup([{ op: 'add', path: 'members', value: { value: 'x' } }]);
    expect(memberIds(g.resource)).toEqual([BABS, MANDY, 'x']);
  });

  it('a new primary value takes primary from the others (RFC 7643 §2.4)', () => {
    const { resource } = patchUser([
      { op: 'add', path: 'emails', value: [{ value: 'new@example.com', type: 'other', primary: true }] },
    ]);
    const emails = resource.emails as { value: string; primary?: boolean }[];
    expect(emails.filter((e) => e.primary === true).map((e) => e.value)).toEqual(['new@example.com']);
  });

  it('refuses two primary values in one operation', () => {
    const err = thrown(() =>
      patchUser([
        {
          op: 'add',
          path: 'emails',
          value: [
            { value: 'a@x', primary: true },
            { value: 'b@x', primary: true },
          ],
        },
      ]),
    );
    expect(err).toMatchObject({ scimType: 'invalidValue' });
  });

  it('adds through a value filter that matches nothing by creating the element it describes', () => {
    const { resource } = patchUser([
      { op: 'add', path: 'phoneNumbers[type eq "mobile"].value', value: '555-1234' },
    ]);
    expect(resource.phoneNumbers).toEqual([
      { value: '555-555-5555', type: 'work' },
      { type: 'mobile', value: '555-1234' },
    ]);
  });

  it('adds an extension attribute and lists the extension in schemas', () => {
    const start = bjensen();
    delete start[ENT];
    start.schemas = ['urn:ietf:params:scim:schemas:core:2.0:User'];
    const { resource } = patchUser([{ op: 'add', path: `${ENT}:department`, value: 'Sales' }], start);
    expect(resource[ENT]).toEqual({ department: 'Sales' });
    expect(resource.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User', ENT]);
  });
});

describe('RFC 7644 §3.5.2.2 remove', () => {
  it('removes all members', () => {
    const { resource, changed } = patchGroup([{ op: 'remove', path: 'members' }]);
    expect(changed).toBe(true);
    expect(resource).not.toHaveProperty('members');
  });

  it('removes one member by filter (the RFC writes eq without a space before the value)', () => {
    const { resource } = patchGroup([{ op: 'remove', path: `members[value eq"${BABS}"]` }]);
    expect(memberIds(resource)).toEqual([MANDY]);
  });

  it('removes the values a complex filter selects', () => {
    const { resource } = patchUser([
      { op: 'remove', path: 'emails[type eq "work" and value ew "example.com"]' },
    ]);
    expect(resource.emails).toEqual([{ value: 'babs@jensen.org', type: 'home' }]);
  });

  it('removes all members, then adds one (RFC 7644 §3.5.2.2 last example)', () => {
    const { resource } = patchGroup([
      { op: 'remove', path: 'members' },
      { op: 'add', path: 'members', value: [{ display: 'James Smith', value: '08e1d05d' }] },
    ]);
    expect(resource.members).toEqual([{ display: 'James Smith', value: '08e1d05d' }]);
  });

  it('a filter that matches nothing is no change, not an error', () => {
    expect(patchGroup([{ op: 'remove', path: 'members[value eq "nobody"]' }]).changed).toBe(false);
  });

  it('removes a sub-attribute, and the complex attribute once it is empty', () => {
    const one = patchUser([{ op: 'remove', path: 'name.formatted' }]).resource;
    expect(one.name).toEqual({ familyName: 'Jensen', givenName: 'Barbara' });
    const all = patchUser([
      { op: 'remove', path: 'name.formatted' },
      { op: 'remove', path: 'name.familyName' },
      { op: 'remove', path: 'name.givenName' },
    ]).resource;
    expect(all).not.toHaveProperty('name');
  });

  it('removing the value of a value removes the value (Entra: remove emails[type eq "work"].value)', () => {
    const { resource } = patchUser([{ op: 'Remove', path: 'emails[type eq "work"].value' }]);
    expect(resource.emails).toEqual([{ value: 'babs@jensen.org', type: 'home' }]);
    const start = bjensen();
    start.addresses = [{ type: 'work', locality: 'Hollywood', primary: true }];
    expect(
      patchUser([{ op: 'remove', path: 'addresses[type eq "work"].locality' }], start).resource,
    ).not.toHaveProperty('addresses');
  });

  it('removes a sub-attribute of the selected values', () => {
    const { resource } = patchUser([{ op: 'remove', path: 'emails[type eq "work"].primary' }]);
    expect((resource.emails as unknown[])[0]).toEqual({ value: 'bjensen@example.com', type: 'work' });
  });

  it('removes the last extension attribute, the extension object and its schema URN', () => {
    const start = bjensen();
    start[ENT] = { department: 'x' };
    const { resource } = patchUser([{ op: 'remove', path: `${ENT}:department` }], start);
    expect(resource).not.toHaveProperty(ENT);
    expect(resource.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User']);
  });

  it('sets extension attributes through a path to the whole extension', () => {
    const { resource } = patchUser([
      { op: 'replace', path: ENT, value: { department: 'Sales', 'manager.value': 'm2' } },
    ]);
    expect(resource[ENT]).toMatchObject({
      employeeNumber: '701984',
      department: 'Sales',
      manager: { value: 'm2' },
    });
  });

  it('an empty value leaves no empty extension object behind', () => {
    const start = bjensen();
    delete start[ENT];
    const r = patchUser(
      [
        { op: 'add', value: { [ENT]: { department: null } } },
        { op: 'replace', path: `${ENT}:costCenter`, value: null },
      ],
      start,
    );
    expect(r.resource).not.toHaveProperty(ENT);
    expect(r.changed).toBe(false);
  });

  it('removes a whole extension by its URN', () => {
    const { resource } = patchUser([{ op: 'remove', path: ENT }]);
    expect(resource).not.toHaveProperty(ENT);
  });

  it('removing what is not there changes nothing', () => {
    expect(patchUser([{ op: 'remove', path: 'locale' }]).changed).toBe(false);
  });
});

describe('RFC 7644 §3.5.2.3 replace', () => {
  it('replaces all members', () => {
    const { resource } = patchGroup([
      {
        op: 'replace',
        path: 'members',
        value: [
          { display: 'Babs', value: BABS },
          { display: 'James', value: '08e1d05d' },
        ],
      },
    ]);
    expect(memberIds(resource)).toEqual([BABS, '08e1d05d']);
  });

  it('replaces the values a filter selects', () => {
    const start = bjensen();
    start.addresses = [
      { type: 'work', streetAddress: '100 Universal City Plaza', locality: 'Hollywood' },
      { type: 'home', locality: 'X' },
    ];
    const { resource } = patchUser(
      [
        {
          op: 'replace',
          path: 'addresses[type eq "work"]',
          value: { type: 'work', streetAddress: '911 Universal City Plaza' },
        },
      ],
      start,
    );
    expect(resource.addresses).toEqual([
      { type: 'work', streetAddress: '911 Universal City Plaza' },
      { type: 'home', locality: 'X' },
    ]);
  });

  it('replaces a sub-attribute of the values a filter selects', () => {
    const start = bjensen();
    start.addresses = [{ type: 'work', streetAddress: '100 Universal City Plaza' }];
    const { resource } = patchUser(
      [{ op: 'replace', path: 'addresses[type eq "work"].streetAddress', value: '1010 Broadway Ave' }],
      start,
    );
    expect(resource.addresses).toEqual([{ type: 'work', streetAddress: '1010 Broadway Ave' }]);
  });

  it('replaces attributes without a path', () => {
    const { resource } = patchUser([
      {
        op: 'replace',
        value: {
          emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }],
          nickname: 'Babs',
        },
      },
    ]);
    expect(resource.emails).toEqual([{ value: 'bjensen@example.com', type: 'work', primary: true }]);
  });

  it('a filter that matches nothing is 400 noTarget', () => {
    const err = thrown(() =>
      patchUser([{ op: 'replace', path: 'emails[type eq "other"].value', value: 'x@example.com' }]),
    );
    expect(err).toMatchObject({ status: 400, scimType: 'noTarget' });
    expect((err as ScimError).detail).toMatch(/operation 1 \(replace emails\[type eq "other"\]\.value\)/);
  });

  it('...unless the option asks to add instead', () => {
    const { resource } = applyPatch(
      bjensen(),
      [{ op: 'replace', path: 'emails[type eq "other"].value', value: 'x@example.com' }],
      USER,
      {
        replaceAddsMissingElement: true,
      },
    );
    expect((resource.emails as unknown[]).at(-1)).toEqual({ type: 'other', value: 'x@example.com' });
  });

  it('a path to an unassigned attribute adds it', () => {
    expect(patchUser([{ op: 'replace', path: 'locale', value: 'fr' }]).resource.locale).toBe('fr');
  });

  it('replace on a complex attribute keeps the sub-attributes not given', () => {
    const { resource } = patchUser([{ op: 'replace', path: 'name', value: { givenName: 'Barb' } }]);
    expect(resource.name).toMatchObject({ givenName: 'Barb', familyName: 'Jensen' });
  });

  it('null unassigns', () => {
    expect(patchUser([{ op: 'replace', path: 'title', value: null }]).resource).not.toHaveProperty('title');
    expect(patchUser([{ op: 'replace', value: { title: null } }]).resource).not.toHaveProperty('title');
  });

  it('the same value again is no change', () => {
    const r = patchUser([
      { op: 'replace', path: 'title', value: 'Tour Guide' },
      { op: 'replace', path: 'active', value: true },
      { op: 'replace', path: 'emails[type eq "work"].value', value: 'bjensen@example.com' },
    ]);
    expect(r.changed).toBe(false);
  });
});

describe('Microsoft Entra requests (use-scim-to-provision-users-and-groups, scim-compatibility)', () => {
  it('disables with "False" and capitalised op names', () => {
    const { resource } = patchUser([{ op: 'Replace', path: 'active', value: 'False' }]);
    expect(resource.active).toBe(false);
    expect(patchUser([{ op: 'Replace', path: 'active', value: 'True' }]).changed).toBe(false);
  });

  it('updates multi-valued and single-valued properties', () => {
    const { resource } = patchUser([
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
      { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
    ]);
    expect((resource.emails as unknown[])[0]).toEqual({
      value: 'updatedEmail@microsoft.com',
      type: 'work',
      primary: true,
    });
    expect((resource.name as Record<string, unknown>).familyName).toBe('updatedFamilyName');
  });

  it('replaces several attributes in one no-path value with dotted and URN keys', () => {
    const { resource } = patchUser([
      { op: 'replace', path: 'emails[type eq "work"].value', value: 'TestMhvaes@test.microsoft.com' },
      {
        op: 'replace',
        value: {
          displayName: 'Bjfe',
          'name.givenName': 'Kkom',
          'name.familyName': 'Unua',
          'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber': 'Aklq',
        },
      },
    ]);
    expect(resource.displayName).toBe('Bjfe');
    expect(resource.name).toMatchObject({ givenName: 'Kkom', familyName: 'Unua' });
    expect((resource[ENT] as Record<string, unknown>).employeeNumber).toBe('Aklq');
  });

  it('the old form of the same update, one operation per attribute', () => {
    const { resource } = patchUser([
      { op: 'Replace', path: 'displayName', value: 'Pvlo' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'TestBcwqnm@test.microsoft.com' },
      { op: 'Replace', path: 'name.givenName', value: 'Gtfd' },
      { op: 'Replace', path: 'name.familyName', value: 'Pkqf' },
      { op: 'Replace', path: 'externalId', value: 'Eqpj' },
      {
        op: 'Replace',
        path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber',
        value: 'Eqpj',
      },
    ]);
    expect(resource).toMatchObject({
      displayName: 'Pvlo',
      externalId: 'Eqpj',
      name: { givenName: 'Gtfd', familyName: 'Pkqf' },
    });
  });

  it('adds a single-valued string attribute with "Add"', () => {
    expect(patchUser([{ op: 'Add', path: 'nickName', value: 'Babs2' }]).resource.nickName).toBe('Babs2');
  });

  it('adds members with "$ref": null', () => {
    const { resource } = patchGroup([
      { op: 'Add', path: 'members', value: [{ $ref: null, value: 'f648f8d5ea4e4cd38e9c' }] },
    ]);
    expect((resource.members as unknown[]).at(-1)).toEqual({ value: 'f648f8d5ea4e4cd38e9c' });
  });

  it('removes a member by a value list (without the compliance flag)', () => {
    const { resource } = patchGroup([{ op: 'Remove', path: 'members', value: [{ value: MANDY }] }]);
    expect(memberIds(resource)).toEqual([BABS]);
  });

  it('removes a member by filter (with the compliance flag)', () => {
    const { resource } = patchGroup([{ op: 'remove', path: `members[value eq "${MANDY}"]` }]);
    expect(memberIds(resource)).toEqual([BABS]);
  });

  it('renames a group', () => {
    const { resource } = patchGroup([
      { op: 'Replace', path: 'displayName', value: '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName' },
    ]);
    expect(resource.displayName).toBe('1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName');
  });

  it('sets app roles through roles[primary eq "True"].value, creating the primary role', () => {
    const { resource } = patchUser([
      { op: 'Add', path: 'roles[primary eq "True"].value', value: 'Admin' },
      { op: 'Add', path: 'roles[primary eq "True"].type', value: 'WindowsAzureActiveDirectoryRole' },
    ]);
    expect(resource.roles).toEqual([
      { primary: true, value: 'Admin', type: 'WindowsAzureActiveDirectoryRole' },
    ]);
    const replaced = patchUser(
      [{ op: 'Replace', path: 'roles[primary eq "True"].value', value: 'Reader' }],
      resource,
    ).resource;
    expect(replaced.roles).toEqual([
      { primary: true, value: 'Reader', type: 'WindowsAzureActiveDirectoryRole' },
    ]);
  });

  it('adds roles as a list with "False" primary', () => {
    const { resource } = patchUser([
      {
        op: 'Add',
        path: 'roles',
        value: [{ primary: 'False', type: 'WindowsAzureActiveDirectoryRole', value: 'Admin' }],
      },
    ]);
    expect(resource.roles).toEqual([
      { primary: false, type: 'WindowsAzureActiveDirectoryRole', value: 'Admin' },
    ]);
  });

  it('sets the manager by id alone', () => {
    const { resource } = patchUser([{ op: 'Add', path: `${ENT}:manager`, value: 'boss-id' }]);
    expect((resource[ENT] as Record<string, unknown>).manager).toEqual({
      value: 'boss-id',
      displayName: 'John Smith',
    });
  });
});

describe('Okta requests', () => {
  it('deactivates with a no-path replace', () => {
    const { resource } = patchUser([{ op: 'replace', value: { active: false } }]);
    expect(resource.active).toBe(false);
  });

  it('renames a group echoing its id, and adds and removes members', () => {
    const id = tourGuides().id;
    expect(
      patchGroup([{ op: 'replace', value: { id, displayName: 'Test SCIMv2' } }]).resource.displayName,
    ).toBe('Test SCIMv2');
    const added = patchGroup([
      { op: 'add', path: 'members', value: [{ value: 'u9', display: 'user@example.com' }] },
    ]).resource;
    expect(memberIds(added)).toEqual([BABS, MANDY, 'u9']);
    const removed = patchGroup([{ op: 'remove', path: `members[value eq "${BABS}"]` }]).resource;
    expect(memberIds(removed)).toEqual([MANDY]);
  });

  it('sets a password (write-only) without a path', () => {
    expect(patchUser([{ op: 'replace', value: { password: 'n3w-Secret' } }]).resource.password).toBe(
      'n3w-Secret',
    );
  });
});

describe('errors', () => {
  const cases: [string, PatchOperation[], string, RegExp][] = [
    ['unknown op', [{ op: 'move', path: 'title' }], 'invalidSyntax', /move/],
    ['missing op', [{ path: 'title' } as unknown as PatchOperation], 'invalidSyntax', /op/],
    ['remove without path', [{ op: 'remove' }], 'noTarget', /path/],
    ['add without value', [{ op: 'add', path: 'title' }], 'invalidSyntax', /value/],
    ['no-path add with a non-object', [{ op: 'add', value: 'x' }], 'invalidSyntax', /object/],
    ['id is read-only', [{ op: 'replace', path: 'id', value: 'x' }], 'mutability', /read-only/],
    [
      'meta is read-only',
      [{ op: 'replace', path: 'meta.lastModified', value: '2020-01-01T00:00:00Z' }],
      'mutability',
      /read-only/,
    ],
    ['meta removal', [{ op: 'remove', path: 'meta' }], 'mutability', /read-only/],
    [
      'groups are read-only',
      [{ op: 'add', path: 'groups', value: [{ value: 'g' }] }],
      'mutability',
      /read-only/,
    ],
    ['no-path id change', [{ op: 'replace', value: { id: 'other' } }], 'mutability', /read-only/],
    [
      'manager.displayName is read-only',
      [{ op: 'replace', path: `${ENT}:manager.displayName`, value: 'X' }],
      'mutability',
      /read-only/,
    ],
    ['boolean type', [{ op: 'replace', path: 'active', value: 'yes' }], 'invalidValue', /boolean/],
    ['string type', [{ op: 'replace', path: 'title', value: { a: 1 } }], 'invalidValue', /string/],
    ['complex type', [{ op: 'replace', path: 'name', value: 7 }], 'invalidValue', /object/],
    [
      'unknown sub-attribute in value',
      [{ op: 'add', path: 'emails', value: [{ value: 'a@b', kind: 'x' }] }],
      'invalidValue',
      /kind/,
    ],
    [
      'multi-valued element not an object',
      [{ op: 'add', path: 'emails', value: ['a@b'] }],
      'invalidValue',
      /object/,
    ],
    ['unknown attribute', [{ op: 'add', path: 'shoeSize', value: '9' }], 'invalidPath', /shoeSize/],
    ['unknown no-path key', [{ op: 'add', value: { shoeSize: '9' } }], 'invalidPath', /shoeSize/],
    ['unknown sub-attribute', [{ op: 'replace', path: 'name.nick', value: 'x' }], 'invalidPath', /nick/],
    ['unknown schema', [{ op: 'replace', path: 'urn:example:foo:bar', value: 'x' }], 'invalidPath', /schema/],
    [
      'filter on a single-valued attribute',
      [{ op: 'replace', path: 'name[givenName eq "x"]', value: {} }],
      'invalidPath',
      /multi-valued/,
    ],
    [
      'sub-attribute of multi-valued without filter',
      [{ op: 'replace', path: 'emails.value', value: 'x' }],
      'invalidPath',
      /filter/,
    ],
    ['bad path', [{ op: 'replace', path: 'emails[type eq', value: 'x' }], 'invalidPath', /path/],
    [
      'filter on an unknown sub-attribute',
      [{ op: 'remove', path: 'emails[kind eq "x"]' }],
      'invalidPath',
      /kind/,
    ],
    ['required attribute removal', [{ op: 'remove', path: 'userName' }], 'invalidValue', /required/],
    [
      'required attribute set to null',
      [{ op: 'replace', path: 'userName', value: null }],
      'invalidValue',
      /required/,
    ],
    [
      'second operation fails',
      [
        { op: 'add', path: 'title', value: 'x' },
        { op: 'add', path: 'active', value: 1 },
      ],
      'invalidValue',
      /operation 2/,
    ],
    [
      'binary not base64',
      [{ op: 'add', path: 'x509Certificates', value: [{ value: '***' }] }],
      'invalidValue',
      /base64/,
    ],
  ];
  it.each(cases)('%s → %s', (_name, ops, scimType, detail) => {
    const err = thrown(() => patchUser(ops));
    expect(err).toBeInstanceOf(ScimError);
    expect(err).toMatchObject({ status: 400, scimType });
    expect((err as ScimError).detail).toMatch(detail);
  });

  it('a member value cannot be changed in place (members.value is immutable)', () => {
    const err = thrown(() =>
      patchGroup([{ op: 'replace', path: `members[value eq "${BABS}"].value`, value: 'other' }]),
    );
    expect(err).toMatchObject({ scimType: 'mutability' });
  });

  it('malformed operations handed straight to applyPatch are ScimErrors too', () => {
    expect(thrown(() => patchUser([null as unknown as PatchOperation]))).toMatchObject({
      scimType: 'invalidSyntax',
    });
    expect(thrown(() => patchUser([{ op: 'add', path: 7 as unknown as string, value: 'x' }]))).toMatchObject({
      scimType: 'invalidPath',
    });
    expect(thrown(() => patchUser([{ op: 7 as unknown as string }]))).toMatchObject({
      scimType: 'invalidSyntax',
    });
  });

  it('never modifies the input', () => {
    const start = bjensen();
    const copy = structuredClone(start);
    patchUser(
      [
        { op: 'remove', path: 'emails' },
        { op: 'replace', path: 'name.givenName', value: 'X' },
      ],
      start,
    );
    expect(start).toEqual(copy);
  });

  it('a failing PATCH changes nothing: the input stays, no partial result escapes', () => {
    const start = bjensen();
    expect(
      thrown(() =>
        patchUser(
          [
            { op: 'replace', path: 'title', value: 'X' },
            { op: 'replace', path: 'id', value: 'y' },
          ],
          start,
        ),
      ),
    ).toBeInstanceOf(ScimError);
    expect(start.title).toBe('Tour Guide');
  });

  it('does not pollute prototypes', () => {
    const err = thrown(() =>
      patchUser([{ op: 'add', value: JSON.parse('{"__proto__": {"polluted": true}}') }]),
    );
    expect(err).toBeInstanceOf(ScimError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('custom extensions', () => {
  const set = buildSchemaSet({
    extensions: [
      {
        resourceType: 'User',
        schema: {
          id: 'urn:example:scim:schemas:extension:hr:1.0:User',
          attributes: [
            { name: 'badge', type: 'integer' },
            { name: 'remote', type: 'boolean' },
            { name: 'skills', multiValued: true },
            { name: 'hired', type: 'dateTime', mutability: 'immutable' },
          ],
        },
      },
    ],
  });
  const schema = set.resource('User');
  const HR = 'urn:example:scim:schemas:extension:hr:1.0:User';

  it('coerces by type and keeps immutable values once set', () => {
    const { resource } = applyPatch(
      { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'a' },
      [
        { op: 'add', path: `${HR}:badge`, value: '42' },
        {
          op: 'add',
          value: { [HR]: { remote: 'True', skills: ['go', 'ts'], hired: '2020-02-01T00:00:00Z' } },
        },
        { op: 'add', path: `${HR}:skills`, value: ['TS', 'rust'] },
      ],
      schema,
    );
    expect(resource[HR]).toEqual({
      badge: 42,
      remote: true,
      skills: ['go', 'ts', 'rust'],
      hired: '2020-02-01T00:00:00Z',
    });
    expect(resource.schemas).toContain(HR);
    const err = thrown(() =>
      applyPatch(resource, [{ op: 'replace', path: `${HR}:hired`, value: '2021-01-01T00:00:00Z' }], schema),
    );
    expect(err).toMatchObject({ scimType: 'mutability' });
    expect(
      thrown(() => applyPatch(resource, [{ op: 'replace', path: `${HR}:badge`, value: 'x1' }], schema)),
    ).toMatchObject({
      scimType: 'invalidValue',
    });
  });
});

describe('parsePatchRequest', () => {
  it('reads the operations of a PatchOp body', () => {
    const ops = parsePatchRequest({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'Replace', path: 'active', value: false },
        { op: 'remove', path: 'title' },
      ],
    });
    expect(ops).toEqual([
      { op: 'Replace', path: 'active', value: false },
      { op: 'remove', path: 'title' },
    ]);
  });
  const bad: [string, unknown][] = [
    ['not an object', []],
    ['no schemas', { Operations: [{ op: 'add' }] }],
    ['wrong schema', { schemas: ['urn:x'], Operations: [{ op: 'add' }] }],
    ['no operations', { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'] }],
    ['empty operations', { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [] }],
    [
      'operation not an object',
      { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [1] },
    ],
    [
      'path not a string',
      { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'add', path: 3 }] },
    ],
  ];
  it.each(bad)('%s is a 400', (_name, body) => {
    expect(thrown(() => parsePatchRequest(body))).toMatchObject({ status: 400 });
  });
});

describe('splitMemberOperations', () => {
  const cases: [string, PatchOperation[], unknown][] = [
    [
      'Entra add',
      [{ op: 'Add', path: 'members', value: [{ $ref: null, value: 'a' }] }],
      { add: ['a'], remove: [], operations: [] },
    ],
    [
      'Entra remove by value list',
      [{ op: 'Remove', path: 'members', value: [{ value: 'a' }, { value: 'b' }] }],
      { add: [], remove: ['a', 'b'], operations: [] },
    ],
    [
      'remove by filter',
      [{ op: 'remove', path: 'members[value eq "a"]' }],
      { add: [], remove: ['a'], operations: [] },
    ],
    [
      'remove by or-filter',
      [{ op: 'remove', path: 'members[value eq "a" or value eq "b"]' }],
      { add: [], remove: ['a', 'b'], operations: [] },
    ],
    [
      'remove all then add',
      [
        { op: 'remove', path: 'members' },
        { op: 'add', path: 'members', value: [{ value: 'x' }] },
      ],
      { add: [], remove: [], replace: ['x'], operations: [] },
    ],
    [
      'add then remove the same',
      [
        { op: 'add', path: 'members', value: [{ value: 'x' }] },
        { op: 'remove', path: 'members[value eq "x"]' },
      ],
      { add: [], remove: ['x'], operations: [] },
    ],
    [
      'remove then add the same',
      [
        { op: 'remove', path: 'members[value eq "x"]' },
        { op: 'add', path: 'members', value: [{ value: 'x' }] },
      ],
      { add: ['x'], remove: [], operations: [] },
    ],
    [
      'replace then remove',
      [
        { op: 'replace', path: 'members', value: [{ value: 'x' }, { value: 'y' }] },
        { op: 'remove', path: 'members', value: [{ value: 'x' }] },
      ],
      { add: [], remove: [], replace: ['y'], operations: [] },
    ],
    [
      'other attributes pass through in order',
      [
        { op: 'Replace', path: 'displayName', value: 'n' },
        { op: 'add', path: 'members', value: [{ value: 'a' }] },
        { op: 'replace', path: 'externalId', value: 'e' },
      ],
      {
        add: ['a'],
        remove: [],
        operations: [
          { op: 'Replace', path: 'displayName', value: 'n' },
          { op: 'replace', path: 'externalId', value: 'e' },
        ],
      },
    ],
    [
      'members key in a no-path value',
      [{ op: 'add', value: { displayName: 'n', members: [{ value: 'a' }] } }],
      { add: ['a'], remove: [], operations: [{ op: 'add', value: { displayName: 'n' } }] },
    ],
    [
      'core URN prefix',
      [{ op: 'add', path: 'urn:ietf:params:scim:schemas:core:2.0:Group:members', value: [{ value: 'a' }] }],
      { add: ['a'], remove: [], operations: [] },
    ],
    [
      'replace with nothing',
      [{ op: 'replace', path: 'members', value: [] }],
      { add: [], remove: [], replace: [], operations: [] },
    ],
  ];
  it.each(cases)('%s', (_name, ops, expected) => {
    expect(splitMemberOperations(ops)).toEqual(expected);
  });

  it('gives up (undefined) when the members themselves are needed', () => {
    expect(splitMemberOperations([{ op: 'remove', path: 'members[display eq "x"]' }])).toBeUndefined();
    expect(
      splitMemberOperations([{ op: 'replace', path: 'members[value eq "x"].display', value: 'y' }]),
    ).toBeUndefined();
    expect(
      splitMemberOperations([{ op: 'replace', path: 'members[value eq "x"]', value: { value: 'y' } }]),
    ).toBeUndefined();
  });

  it('rejects members without an id', () => {
    expect(
      thrown(() => splitMemberOperations([{ op: 'add', path: 'members', value: [{ display: 'x' }] }])),
    ).toMatchObject({
      scimType: 'invalidValue',
    });
    expect(thrown(() => splitMemberOperations([{ op: 'jump', path: 'members' }]))).toMatchObject({
      scimType: 'invalidSyntax',
    });
  });

  it('agrees with applyPatch on the resulting member list', () => {
    const sequences: PatchOperation[][] = [
      [
        { op: 'remove', path: 'members' },
        { op: 'add', path: 'members', value: [{ value: 'x' }] },
      ],
      [
        { op: 'add', path: 'members', value: [{ value: 'x' }] },
        { op: 'remove', path: `members[value eq "${BABS}"]` },
      ],
      [
        { op: 'Remove', path: 'members', value: [{ value: MANDY }] },
        { op: 'add', path: 'members', value: [{ value: MANDY }, { value: 'z' }] },
      ],
      [
        { op: 'replace', path: 'members', value: [{ value: 'q' }] },
        { op: 'add', path: 'members', value: [{ value: BABS }] },
      ],
    ];
    for (const ops of sequences) {
      const split = splitMemberOperations(ops)!;
      let members = new Set(memberIds(tourGuides()));
      if (split.replace) members = new Set(split.replace);
      for (const id of split.remove) members.delete(id);
      for (const id of split.add) members.add(id);
      expect([...members].sort()).toEqual(memberIds(patchGroup(ops).resource).sort());
    }
  });
});

describe('fuzz: random operations give a result or a ScimError', () => {
  const ops = ['add', 'Replace', 'remove', 'REMOVE', 'x', ''];
  const paths = [
    undefined,
    '',
    'userName',
    'name',
    'name.givenName',
    'emails',
    'emails[type eq "work"]',
    'emails[type eq "work"].value',
    'emails[primary eq true].primary',
    'emails.value',
    'members',
    'members[value eq "a"]',
    'groups',
    'id',
    'meta',
    'meta.created',
    'active',
    `${ENT}`,
    `${ENT}:manager`,
    `${ENT}:manager.value`,
    'urn:x:y',
    'emails[',
    'x509Certificates',
    'roles[primary eq "True"].value',
  ];
  const values: unknown[] = [
    undefined,
    null,
    'x',
    'True',
    7,
    true,
    [],
    [null],
    ['a'],
    [{ value: 'a', primary: true }],
    [
      { value: 'a', primary: true },
      { value: 'b', primary: true },
    ],
    { value: 'v' },
    { givenName: 'g', nope: 1 },
    { userName: 'u', active: 'False', [ENT]: { department: 'd' } },
    { 'name.givenName': 'g', [`${ENT}:employeeNumber`]: '1' },
    { id: 'other' },
    { __proto__: null, constructor: 'c' },
  ];
  it('3,000 random PATCHes on a user and a group', () => {
    let seed = 4242;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let n = 0; n < 3000; n++) {
      const count = 1 + (next() % 3);
      const list: PatchOperation[] = [];
      for (let k = 0; k < count; k++) {
        const operation: PatchOperation = { op: ops[next() % ops.length]! };
        const path = paths[next() % paths.length];
        if (path !== undefined) operation.path = path;
        const value = values[next() % values.length];
        if (value !== undefined) operation.value = value;
        list.push(operation);
      }
      for (const [resource, schema] of [
        [bjensen(), USER],
        [tourGuides(), GROUP],
      ] as const) {
        try {
          const { resource: out } = applyPatch(resource, list, schema);
          expect(typeof out).toBe('object');
        } catch (err) {
          if (!(err instanceof ScimError)) throw new Error(`${JSON.stringify(list)} threw ${String(err)}`);
          expect(err.status).toBe(400);
        }
      }
    }
  });
});
