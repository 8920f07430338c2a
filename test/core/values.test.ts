/** The value model's JSON form: what the store keeps and compares. */
import { describe, expect, it } from 'vitest';
import { decodeAttributes, encodeAttributes } from '../../src/core/values.js';

describe('encodeAttributes / decodeAttributes', () => {
  it('round-trips strings, numbers, booleans, references and binary values', () => {
    const attributes = {
      photo: [new Uint8Array([0, 1, 254, 255])],
      manager: [{ ref: 'uid=boss,ou=people' }],
      age: [42],
      active: [false],
      mail: ['a@example.com', 'b@example.com'],
    };
    const back = decodeAttributes(encodeAttributes(attributes));
    expect(Buffer.from(back.photo![0] as Uint8Array)).toEqual(Buffer.from([0, 1, 254, 255]));
    expect(back.manager).toEqual([{ ref: 'uid=boss,ou=people' }]);
    expect(back.age).toEqual([42]);
    expect(back.active).toEqual([false]);
    expect(back.mail).toEqual(['a@example.com', 'b@example.com']);
  });

  it('keeps a string that spells the binary marker a string', () => {
    const attributes = { note: ['{"$b64":"AAE="}', '"$b64"'] };
    const back = decodeAttributes(encodeAttributes(attributes));
    expect(back.note).toEqual(['"$b64"', '{"$b64":"AAE="}']);
  });

  it('is canonical: names and multi-values sorted, empty attributes dropped unless kept', () => {
    const a = encodeAttributes({ b: ['2', '1'], a: ['x'], empty: [] });
    expect(a).toBe(encodeAttributes({ a: ['x'], b: ['1', '2'] }));
    expect(a).toBe('{"a":["x"],"b":["1","2"]}');
    expect(encodeAttributes({ empty: [] }, { keepEmpty: true })).toBe('{"empty":[]}');
  });

  it('reads nothing as no attributes', () => {
    expect(decodeAttributes(null)).toEqual({});
    expect(decodeAttributes('')).toEqual({});
  });
});
