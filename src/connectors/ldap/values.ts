/**
 * Conversions between LDAP attribute values and idsync values, and the canonical string forms of anchors.
 */
import type { AttributeSchema } from '../contract.js';
import { isReference, type Value } from '../../core/values.js';
import { canonicalDN, type TypeCase } from './dn.js';

/** The standard text form of an AD GUID: the first three groups are stored little-endian. */
export function guidToString(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error(`a GUID has 16 bytes, not ${bytes.length}`);
  const b = Buffer.from(bytes);
  const hex = (start: number, end: number, reverse: boolean) => {
    const part = Buffer.from(b.subarray(start, end));
    if (reverse) part.reverse();
    return part.toString('hex');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

export function guidToBytes(guid: string): Buffer {
  const m = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i.exec(
    guid.trim(),
  );
  if (!m) throw new Error(`${JSON.stringify(guid)} is not a GUID`);
  const le = (hex: string) => Buffer.from(hex, 'hex').reverse();
  return Buffer.concat([
    le(m[1]!),
    le(m[2]!),
    le(m[3]!),
    Buffer.from(m[4]!, 'hex'),
    Buffer.from(m[5]!, 'hex'),
  ]);
}

/** S-1-5-21-… from a binary SID */
export function sidToString(bytes: Uint8Array): string {
  const b = Buffer.from(bytes);
  if (b.length < 8) throw new Error('a SID has at least 8 bytes');
  const revision = b[0]!;
  const count = b[1]!;
  const authority = b.readUIntBE(2, 6);
  const parts = [`S-${revision}-${authority}`];
  for (let i = 0; i < count; i++) parts.push(String(b.readUInt32LE(8 + 4 * i)));
  return parts.join('-');
}

/** The anchor's text form: GUIDs as GUIDs, SIDs as SIDs, other bytes as hex, text as is. */
export function anchorString(attribute: string, value: string | Buffer): string {
  if (typeof value === 'string') return value;
  const key = attribute.toLowerCase();
  if (key === 'objectsid') return sidToString(value);
  if (value.length === 16) return guidToString(value);
  return value.toString('hex');
}

/** The value to search for an anchor given in its text form. */
export function anchorSearchValue(attribute: string, anchor: string, binary: boolean): string | Buffer {
  if (!binary) return anchor;
  if (/^\{?[0-9a-f]{8}-/i.test(anchor)) return guidToBytes(anchor);
  if (attribute.toLowerCase() === 'objectsid') return sidToBytes(anchor);
  return Buffer.from(anchor, 'hex');
}

export function sidToBytes(sid: string): Buffer {
  const parts = sid.split('-');
  if (parts[0] !== 'S' || parts.length < 3) throw new Error(`${JSON.stringify(sid)} is not a SID`);
  const subs = parts.slice(3).map(Number);
  const b = Buffer.alloc(8 + 4 * subs.length);
  b[0] = Number(parts[1]);
  b[1] = subs.length;
  b.writeUIntBE(Number(parts[2]), 2, 6);
  for (const [i, s] of subs.entries()) b.writeUInt32LE(s, 8 + 4 * i);
  return b;
}

/** 20240131120000.123Z, 20240131120000Z, 202401311200+0100 → ISO 8601 in UTC; undefined when not a time */
export function generalizedTimeToIso(text: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)?$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const ms = Math.round(Number(`0.${frac || '0'}`) * 1000);
  let time = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    time -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5) || '0')) * 60_000;
  }
  const date = new Date(time);
  // AD's "never" (16010101000000.0Z) is before the epoch but still a valid date
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export function isoToGeneralizedTime(iso: string): string | undefined {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return undefined;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const base = `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}`;
  const ms = date.getUTCMilliseconds();
  return ms ? `${base}.${p(ms, 3)}Z` : `${base}Z`;
}

/** An LDAP value (text or bytes, as decoded) in idsync's value model. */
export function fromLdap(raw: string | Buffer, schema: AttributeSchema, typeCase: TypeCase): Value {
  if (typeof raw !== 'string') return schema.type === 'binary' ? raw : raw.toString('utf8');
  switch (schema.type) {
    case 'reference':
      try {
        return { ref: canonicalDN(raw, typeCase) };
      } catch {
        return { ref: raw };
      }
    case 'number': {
      const n = Number(raw);
      return Number.isSafeInteger(n) ? n : raw;
    }
    case 'boolean':
      return raw.toUpperCase() === 'TRUE';
    case 'date':
      return generalizedTimeToIso(raw) ?? raw;
    case 'binary':
      return Buffer.from(raw, 'utf8');
    default:
      return raw;
  }
}

/** An idsync value as the LDAP value to write. */
export function toLdap(value: Value, schema: AttributeSchema): string | Buffer {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (isReference(value)) return value.ref;
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'number') return String(value);
  if (schema.type === 'date') return isoToGeneralizedTime(value) ?? value;
  return value;
}
