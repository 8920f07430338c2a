/**
 * The value model shared by connectors, the store, the rules and the engine.
 *
 * Every attribute is a list of values: a single-valued attribute is a list of at most one value, and "no value"
 * is the empty list. That keeps multi-valued attributes (member, proxyAddresses) and single-valued ones on one
 * code path. Dates travel as ISO 8601 strings in UTC; binary values as Uint8Array (Buffer is one).
 */

/** A reference to another object of the same system, by that system's name for it (a DN, an id, a key). */
export interface Reference {
  readonly ref: string;
}

export type Scalar = string | number | boolean | Uint8Array;
export type Value = Scalar | Reference;
export type Attributes = Record<string, Value[]>;

export function isReference(value: unknown): value is Reference {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && 'ref' in value;
}

/** The names an object's references point at, attribute by attribute, duplicates kept. */
export function referencedNames(attributes: Attributes): string[] {
  return Object.values(attributes).flatMap((vs) => vs.filter(isReference).map((v) => v.ref));
}

export function isBinary(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

/** A string that is equal for equal values and different for different ones, across types. */
export function valueKey(value: Value): string {
  if (typeof value === 'string') return `s:${value}`;
  if (typeof value === 'number') return `n:${value}`;
  if (typeof value === 'boolean') return value ? 'b:1' : 'b:0';
  if (value instanceof Uint8Array) return `x:${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  return `r:${value.ref}`;
}

export function sameValue(a: Value, b: Value): boolean {
  return valueKey(a) === valueKey(b);
}

/** Set equality: order and duplicates do not matter (LDAP and SCIM multi-valued attributes are unordered sets). */
export function sameValues(a: readonly Value[] | undefined, b: readonly Value[] | undefined): boolean {
  const left = a ?? [];
  const right = b ?? [];
  if (left.length === 0 && right.length === 0) return true;
  if (left.length === 1 && right.length === 1) return sameValue(left[0]!, right[0]!);
  const keys = new Set(left.map(valueKey));
  const otherKeys = new Set(right.map(valueKey));
  if (keys.size !== otherKeys.size) return false;
  for (const k of otherKeys) if (!keys.has(k)) return false;
  return true;
}

/** Values of `from` that are not in `other`, keeping the first occurrence of each. */
export function valuesMissingFrom(from: readonly Value[], other: readonly Value[]): Value[] {
  const otherKeys = new Set(other.map(valueKey));
  const seen = new Set<string>();
  const out: Value[] = [];
  for (const v of from) {
    const k = valueKey(v);
    if (otherKeys.has(k) || seen.has(k)) continue;
    seen.add(k);
    out.push(v);
  }
  return out;
}

/** A human-readable rendering for logs, plans and explanations. Secrets are redacted by the caller. */
export function displayValue(value: Value): string {
  if (value instanceof Uint8Array) return `<binary ${value.byteLength} bytes>`;
  if (isReference(value)) return `→${value.ref}`;
  return String(value);
}

// ---- JSON encoding: values survive a round trip through the store and the JSON outputs. -------------------

interface EncodedBinary {
  $b64: string;
}

export type EncodedValue = string | number | boolean | Reference | EncodedBinary;

export function encodeValue(value: Value): EncodedValue {
  if (value instanceof Uint8Array) {
    return { $b64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  return value;
}

export function decodeValue(encoded: EncodedValue): Value {
  if (typeof encoded === 'object' && encoded !== null && '$b64' in encoded) {
    return Buffer.from(encoded.$b64, 'base64');
  }
  return encoded as Value;
}

/**
 * Canonical JSON: attribute names sorted, the values of a multi-valued attribute sorted, empty attributes
 * dropped. Equal attribute sets give equal strings, which is how the engine tells an unchanged object from a
 * changed one without decoding it. Values are sorted because multi-valued attributes are sets in LDAP, SCIM
 * and SQL child tables alike: a target that returns members in another order has not changed them.
 */
export function encodeAttributes(attributes: Attributes, options: { keepEmpty?: boolean } = {}): string {
  const out: Record<string, EncodedValue[]> = {};
  for (const name of Object.keys(attributes).sort()) {
    const values = attributes[name]!;
    // Desired states keep empty lists: "this attribute must have no value" is not "no opinion".
    if (values.length === 0 && !options.keepEmpty) continue;
    const ordered = values.length > 1 ? sortedValues(values) : values;
    out[name] = ordered.map(encodeValue);
  }
  return JSON.stringify(out);
}

function sortedValues(values: Value[]): Value[] {
  const keyed = values.map((v) => [valueKey(v), v] as const);
  keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return keyed.map(([, v]) => v);
}

export function decodeAttributes(json: string | null | undefined): Attributes {
  if (!json) return {};
  const parsed = JSON.parse(json) as Record<string, EncodedValue[]>;
  // Only binary values need decoding; without one, the parsed object is the attributes (most rows, read
  // hundreds of thousands of times in a cycle, were copied for nothing).
  if (!json.includes('"$b64"')) return parsed as Attributes;
  const out: Attributes = {};
  for (const [name, values] of Object.entries(parsed)) out[name] = values.map(decodeValue);
  return out;
}
