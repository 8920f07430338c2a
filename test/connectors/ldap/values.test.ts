import { describe, expect, it } from 'vitest';
import { syncInfo, syncState, uuidString } from '../../../src/connectors/ldap/protocol/controls.js';
import {
  generalizedTimeToIso,
  guidToBytes,
  guidToString,
  isoToGeneralizedTime,
  sidToBytes,
  sidToString,
} from '../../../src/connectors/ldap/values.js';

describe('LDAP value forms', () => {
  it('writes an AD objectGUID in its standard text form (first three groups little-endian)', () => {
    const bytes = Buffer.from('a1b2c3d4e5f60718293a4b5c6d7e8f90', 'hex');
    expect(guidToString(bytes)).toBe('d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90');
    expect(guidToBytes('d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90').equals(bytes)).toBe(true);
    expect(() => guidToBytes('nope')).toThrow();
  });

  it('writes a SID as S-1-5-21-…', () => {
    const sid = 'S-1-5-21-3623811015-3361044348-30300820-1013';
    const bytes = sidToBytes(sid);
    // revision 1, 5 sub-authorities, authority 5, then little-endian sub-authorities (21 … 1013 = f5030000)
    expect(bytes.toString('hex').slice(0, 32)).toBe('010500000000000515000000c7f7fed7');
    expect(bytes.toString('hex').slice(-8)).toBe('f5030000');
    expect(sidToString(bytes)).toBe(sid);
  });

  it('converts generalized time to ISO 8601 and back', () => {
    expect(generalizedTimeToIso('20240131120000Z')).toBe('2024-01-31T12:00:00.000Z');
    expect(generalizedTimeToIso('20240131120000.5Z')).toBe('2024-01-31T12:00:00.500Z');
    expect(generalizedTimeToIso('202401311300+0100')).toBe('2024-01-31T12:00:00.000Z');
    expect(generalizedTimeToIso('16010101000000.0Z')).toBe('1601-01-01T00:00:00.000Z');
    expect(generalizedTimeToIso('yesterday')).toBeUndefined();
    expect(isoToGeneralizedTime('2024-01-31T12:00:00.250Z')).toBe('20240131120000.250Z');
  });

  it('decodes RFC 4533 sync state and info values', () => {
    const uuid = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
    // SEQUENCE { ENUMERATED 3 (delete), OCTET STRING uuid }
    const state = Buffer.concat([Buffer.from([0x30, 0x15, 0x0a, 0x01, 0x03, 0x04, 0x10]), uuid]);
    expect(syncState([{ oid: '1.3.6.1.4.1.4203.1.9.1.2', critical: false, value: state }])).toEqual({
      state: 'delete',
      entryUUID: uuidString(uuid),
      cookie: undefined,
    });
    // syncIdSet [3] { cookie "c", refreshDeletes TRUE, SET OF { uuid } }
    const idSet = Buffer.concat([
      Buffer.from([0xa3, 0x1a, 0x04, 0x01, 0x63, 0x01, 0x01, 0xff, 0x31, 0x12, 0x04, 0x10]),
      uuid,
    ]);
    expect(syncInfo(idSet)).toEqual({
      kind: 'syncIdSet',
      cookie: 'c',
      refreshDeletes: true,
      uuids: [uuidString(uuid)],
    });
    expect(syncInfo(Buffer.from([0x80, 0x02, 0x61, 0x62]))).toEqual({ kind: 'newCookie', cookie: 'ab' });
  });
});
