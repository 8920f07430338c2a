/**
 * A bulkUpload operation → a record write: Entra's documented payloads read into the attribute names its
 * inbound mapping uses, every problem of a malformed record named with its operation and attribute.
 */
import { describe, expect, it } from 'vitest';
import { parseOperation, recordSchema } from '../../../src/connectors/api/record.js';
import { apiSettings } from '../../../src/connectors/api/settings.js';
import { CONTOSO, ENTERPRISE, person } from '../../helpers/inbound.js';

const settings = apiSettings.parse({ extensions: { [CONTOSO]: { HireDate: 'dateTime', JobCode: 'string' } } });
const schema = recordSchema(settings);
const parse = (op: unknown, s = settings) => parseOperation(op, 0, s === settings ? schema : recordSchema(s), s);
const post = (data: unknown, bulkId = 'b1') => ({ method: 'POST', bulkId, path: '/Users', data });

describe('parseOperation', () => {
  it("reads Graph's bulkUpload example into Entra's flat attribute names", () => {
    const p = parse(post(person(1, { addresses: [{ type: 'work', locality: 'Hollywood', primary: true }], phoneNumbers: [{ value: '555-555-5555', type: 'work' }] })));
    expect(p.issues).toEqual([]);
    expect(p.anchor).toBe('700001');
    expect(p.write).toMatchObject({ op: 'upsert', anchor: '700001' });
    const attributes = p.write!.op === 'upsert' ? p.write!.attributes : {};
    expect(attributes).toMatchObject({
      externalId: ['700001'],
      userName: ['user1@example.com'],
      'name.givenName': ['Given1'],
      'emails[type eq "work"].value': ['user1@example.com'],
      'emails[type eq "work"].primary': [true],
      'addresses[type eq "work"].locality': ['Hollywood'],
      'phoneNumbers[type eq "work"].value': ['555-555-5555'],
      active: [true],
      [`${ENTERPRISE}:department`]: ['Dept 1'],
      [`${CONTOSO}:JobCode`]: ['JC-1'],
    });
    expect(attributes[`${CONTOSO}:HireDate`]).toHaveLength(1);
  });

  it('reads manager.value as a reference to the anchor it names; "True" as a boolean', () => {
    const p = parse(post(person(2, { active: 'True' })));
    const attributes = p.write!.op === 'upsert' ? p.write!.attributes : {};
    expect(attributes[`${ENTERPRISE}:manager`]).toEqual([{ ref: '700001' }]);
    expect(attributes.active).toEqual([true]);
  });

  it('a partial record (Graph example 3) touches only what it sends; null clears', () => {
    const p = parse(post({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE], externalId: '7172023', active: false, title: null, [ENTERPRISE]: { department: 'Tour Ops' } }));
    expect(p.issues).toEqual([]);
    expect(p.write).toMatchObject({ op: 'upsert', touched: ['externalId', 'active', 'title', `${ENTERPRISE}:department`] });
  });

  it('names every bad attribute of a record, with its operation', () => {
    const p = parse(post(person(3, { name: 'Jensen', emails: 'bj@example.com', active: 'maybe', [ENTERPRISE]: { department: { x: 1 } } }), 'op-3'));
    expect(p.write).toBeUndefined();
    expect(p.issues.map((i) => i.path).sort()).toEqual(['active', 'emails', 'name', `${ENTERPRISE}:department`].sort());
    for (const i of p.issues) {
      expect(i.code).toBe('API_ATTRIBUTE_INVALID');
      expect(i.message).toMatch(/^bulkId op-3: /);
      expect(i.retryable).toBe(false);
    }
  });

  it('a record without its anchor, or with an empty one, fails naming the anchor attribute', () => {
    const none = person(4);
    delete none.externalId;
    expect(parse(post(none)).issues).toEqual([expect.objectContaining({ code: 'API_ANCHOR_MISSING', path: 'externalId' })]);
    expect(parse(post(person(4, { externalId: '' }))).issues[0]).toMatchObject({ code: 'API_ANCHOR_MISSING' });
  });

  it('another attribute can be the anchor', () => {
    const s = apiSettings.parse({ anchor: `${ENTERPRISE}:employeeNumber` });
    expect(parse(post(person(5, { externalId: undefined })), s).anchor).toBe('700005');
  });

  it('unknown attributes are ignored and listed, or refused with unknownAttributes: reject', () => {
    const data = person(6, { badgeId: 'B-1', [`${CONTOSO}`]: { JobCode: 'X', Shoe: 42 } });
    const p = parse(post(data));
    expect(p.issues).toEqual([]);
    expect(p.ignored.sort()).toEqual(['badgeId', `${CONTOSO}:Shoe`]);
    const strict = apiSettings.parse({ unknownAttributes: 'reject' });
    const q = parse(post(data), strict);
    // the contoso extension is not listed in these settings: the whole URN is unknown
    expect(q.issues.map((i) => [i.code, i.path])).toEqual([
      ['API_ATTRIBUTE_UNKNOWN', CONTOSO],
      ['API_ATTRIBUTE_UNKNOWN', 'badgeId'],
    ]);
  });

  it('refuses other methods and paths, and reads DELETE /Users/{anchor}', () => {
    expect(parse({ method: 'PATCH', bulkId: 'x', path: '/Users/1', data: {} }).issues[0]).toMatchObject({ code: 'API_OPERATION_UNSUPPORTED', path: 'method' });
    expect(parse({ method: 'POST', bulkId: 'x', path: '/Groups', data: {} }).issues[0]).toMatchObject({ code: 'API_OPERATION_UNSUPPORTED', path: 'path' });
    expect(parse('nonsense').issues[0]).toMatchObject({ code: 'API_OPERATION_INVALID', message: 'Operations[0]: an operation must be an object with method, bulkId, path and data' });
    expect(parse({ method: 'POST', path: '/Users', data: 'x' }).issues[0]).toMatchObject({ code: 'API_OPERATION_INVALID', path: 'data' });
    expect(parse({ method: 'delete', path: '/Users/70%2F1' }).write).toEqual({ op: 'delete', anchor: '70/1' });
  });
});
