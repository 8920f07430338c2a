import { describe, expect, it } from 'vitest';
import { compareBy, parseSortOrder, sortResources } from '../../src/scim/index.js';
import { thrown, USER } from './fixtures.js';

const people = [
  {
    id: '1',
    userName: 'carol',
    name: { familyName: 'b' },
    emails: [{ value: 'z@x' }, { value: 'a@x', primary: true }],
    meta: { lastModified: '2024-01-02T00:00:00Z' },
  },
  {
    id: '2',
    userName: 'Alice',
    emails: [{ value: 'm@x' }],
    meta: { lastModified: '2024-01-01T10:00:00+09:00' },
  },
  {
    id: '3',
    userName: 'bob',
    name: { familyName: 'A' },
    externalId: 'b',
    meta: { lastModified: '2023-12-31T00:00:00Z' },
  },
  { id: '4', userName: 'Bob2', externalId: 'B', active: true },
];
const ids = (list: { id: string }[]) => list.map((p) => p.id);

describe('sortResources', () => {
  const cases: [string, string | undefined, string[]][] = [
    ['userName', undefined, ['2', '3', '4', '1']], // case folded: alice, bob, bob2, carol
    ['userName', 'descending', ['1', '4', '3', '2']],
    ['name.familyName', 'ascending', ['3', '1', '2', '4']], // missing values last
    ['name.familyName', 'descending', ['2', '4', '1', '3']], // and first when descending, ties in input order
    ['emails', 'ascending', ['1', '2', '3', '4']], // primary value (a@x), else first
    ['emails.value', 'ascending', ['1', '2', '3', '4']],
    ['meta.lastModified', 'ascending', ['3', '2', '1', '4']], // instants, not text
    ['externalId', 'ascending', ['4', '3', '1', '2']], // caseExact: "B" < "b"
    ['USERNAME', 'Ascending', ['2', '3', '4', '1']],
  ];
  it.each(cases)('%s %s', (sortBy, order, expected) => {
    expect(ids(sortResources(people, sortBy, order, USER))).toEqual(expected);
  });

  it('the comparator agrees', () => {
    expect(ids([...people].sort(compareBy('userName', 'ascending', USER)))).toEqual(['2', '3', '4', '1']);
  });

  it('is stable for equal keys', () => {
    const same = [
      { id: 'x', title: 'a' },
      { id: 'y', title: 'A' },
      { id: 'z', title: 'a' },
    ];
    expect(ids(sortResources(same, 'title', 'ascending', USER))).toEqual(['x', 'y', 'z']);
  });

  it('rejects bad parameters with invalidValue', () => {
    expect(thrown(() => sortResources(people, 'shoeSize', undefined, USER))).toMatchObject({
      status: 400,
      scimType: 'invalidValue',
    });
    expect(thrown(() => sortResources(people, 'name', undefined, USER))).toMatchObject({
      scimType: 'invalidValue',
    });
    expect(thrown(() => sortResources(people, 'password', undefined, USER))).toMatchObject({
      scimType: 'invalidValue',
    });
    expect(thrown(() => parseSortOrder('up'))).toMatchObject({ scimType: 'invalidValue' });
  });
});
