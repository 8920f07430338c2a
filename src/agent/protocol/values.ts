/**
 * Attribute values on the wire. JSON has strings, numbers, booleans and objects; idsync's values add binary
 * (objectGUID, jpegPhoto) and references. A binary value travels as { b64 }, a reference as { ref }, so a
 * value's kind is never guessed from its text.
 */
import { z } from 'zod';
import { isBinary, isReference, type Attributes, type Value } from '../../core/values.js';

export const wireValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.object({ ref: z.string() }).strict(),
  z.object({ b64: z.base64() }).strict(),
]);
export type WireValue = z.infer<typeof wireValue>;

export const wireAttributes = z.record(z.string(), z.array(wireValue));
export type WireAttributes = z.infer<typeof wireAttributes>;

export function toWireValue(value: Value): WireValue {
  if (isBinary(value)) return { b64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (isReference(value)) return { ref: value.ref };
  return value;
}

export function fromWireValue(value: WireValue): Value {
  if (typeof value !== 'object') return value;
  if ('b64' in value) return Buffer.from(value.b64, 'base64');
  return { ref: value.ref };
}

export function toWireAttributes(attributes: Attributes): WireAttributes {
  const out: WireAttributes = {};
  for (const [name, values] of Object.entries(attributes)) out[name] = values.map(toWireValue);
  return out;
}

export function fromWireAttributes(attributes: WireAttributes): Attributes {
  const out: Attributes = {};
  for (const [name, values] of Object.entries(attributes)) out[name] = values.map(fromWireValue);
  return out;
}
