/**
 * Distinguished names (RFC 4514): parsing, escaping and a canonical spelling.
 *
 * Servers spell the same DN differently (OpenLDAP answers `cn=a\2Cb` to an add of `cn=a\,b`, AD upper-cases
 * attribute types), so every DN the connector hands out is re-formatted in one canonical way: a name exported
 * then imported comes back identical, and references compare equal as strings.
 */

export interface Ava {
  type: string;
  value: string;
}

export type Rdn = Ava[];

export class InvalidDnError extends Error {
  override readonly name = 'InvalidDnError';
}

export type TypeCase = 'lower' | 'upper';

/** Splits a DN into RDNs, unescaping values. Throws InvalidDnError on malformed input. */
export function parseDN(dn: string): Rdn[] {
  const rdns: Rdn[] = [];
  let i = 0;
  const n = dn.length;
  const skipSpaces = () => {
    while (i < n && dn[i] === ' ') i++;
  };
  skipSpaces();
  if (i >= n) return rdns;
  let rdn: Rdn = [];
  for (;;) {
    skipSpaces();
    const typeStart = i;
    while (i < n && dn[i] !== '=' && dn[i] !== ',' && dn[i] !== '+') i++;
    const type = dn.slice(typeStart, i).trim();
    if (i >= n || dn[i] !== '=' || !/^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)*)$/.test(type)) {
      throw new InvalidDnError(
        `invalid DN ${JSON.stringify(dn)}: expected attribute=value at position ${typeStart}`,
      );
    }
    i++; // '='
    skipSpaces();
    const { value, next } = readValue(dn, i);
    i = next;
    rdn.push({ type, value });
    if (i >= n) break;
    const separator = dn[i];
    i++;
    if (separator === ',' || separator === ';') {
      rdns.push(rdn);
      rdn = [];
    } else if (separator !== '+') {
      throw new InvalidDnError(`invalid DN ${JSON.stringify(dn)}: unexpected ${JSON.stringify(separator)}`);
    }
  }
  rdns.push(rdn);
  return rdns;
}

function readValue(dn: string, start: number): { value: string; next: number } {
  const n = dn.length;
  let i = start;
  if (dn[i] === '#') {
    // a BER-encoded value in hex: kept as written, it is not a string we could unescape
    i++;
    while (i < n && /[0-9A-Fa-f]/.test(dn[i]!)) i++;
    const value = dn.slice(start, i);
    while (i < n && dn[i] === ' ') i++;
    return { value, next: i };
  }
  const bytes: number[] = [];
  let text = '';
  // the length of `text` up to its last non-space or escaped character: unescaped trailing spaces are dropped
  let significant = 0;
  const flushBytes = () => {
    if (bytes.length > 0) {
      text += Buffer.from(bytes).toString('utf8');
      bytes.length = 0;
      significant = text.length;
    }
  };
  while (i < n) {
    const c = dn[i]!;
    if (c === ',' || c === '+' || c === ';') break;
    if (c === '\\') {
      const a = dn[i + 1];
      const b = dn[i + 2];
      if (a !== undefined && b !== undefined && /[0-9A-Fa-f]/.test(a) && /[0-9A-Fa-f]/.test(b)) {
        bytes.push(Number.parseInt(a + b, 16));
        i += 3;
        continue;
      }
      if (a === undefined) throw new InvalidDnError(`invalid DN ${JSON.stringify(dn)}: trailing backslash`);
      flushBytes();
      text += a;
      significant = text.length;
      i += 2;
      continue;
    }
    flushBytes();
    text += c;
    if (c !== ' ') significant = text.length;
    i++;
  }
  flushBytes();
  return { value: text.slice(0, significant), next: i };
}

/** Escapes an attribute value for use in a DN (RFC 4514 section 2.4). */
export function escapeDNValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\0') out += '\\00';
    else if (c === '"' || c === '+' || c === ',' || c === ';' || c === '<' || c === '>' || c === '\\')
      out += `\\${c}`;
    else if ((i === 0 && (c === ' ' || c === '#')) || (i === value.length - 1 && c === ' ')) out += `\\${c}`;
    else out += c;
  }
  return out;
}

export function formatRdn(rdn: Rdn, typeCase: TypeCase): string {
  return rdn
    .map((ava) => {
      const type = typeCase === 'upper' ? ava.type.toUpperCase() : ava.type.toLowerCase();
      const value =
        ava.value.startsWith('#') && /^#[0-9A-Fa-f]+$/.test(ava.value) ? ava.value : escapeDNValue(ava.value);
      return `${type}=${value}`;
    })
    .join('+');
}

export function formatDN(rdns: Rdn[], typeCase: TypeCase): string {
  return rdns.map((rdn) => formatRdn(rdn, typeCase)).join(',');
}

/** The connector's one spelling of a DN. */
const NOTHING_TO_ESCAPE = /^[^\\"+;<>#\0]*$/;
const SPACE_AROUND_SEPARATOR = /(?: [,=])|(?:[,=] )|^ | $/;
const ATTRIBUTE_TYPE = /^[A-Za-z][A-Za-z0-9-]*$/;

export function canonicalDN(dn: string, typeCase: TypeCase): string {
  // most DNs have no escapes and no significant spaces: only the attribute types may need their case changed
  if (NOTHING_TO_ESCAPE.test(dn) && !SPACE_AROUND_SEPARATOR.test(dn)) {
    let out = '';
    let plain = true;
    let changed = false;
    for (const part of dn.split(',')) {
      const eq = part.indexOf('=');
      const type = part.slice(0, eq);
      if (eq <= 0 || !ATTRIBUTE_TYPE.test(type)) {
        plain = false;
        break;
      }
      const spelled = typeCase === 'upper' ? type.toUpperCase() : type.toLowerCase();
      if (spelled !== type) changed = true;
      out += `${out ? ',' : ''}${spelled}${part.slice(eq)}`;
    }
    // already canonical (the usual case): hand back the server's string, no copy
    if (plain) return changed ? out : dn;
  }
  return formatDN(parseDN(dn), typeCase);
}

/** A key equal for DNs that name the same entry (types and values compared without case). */
export function dnKey(dn: string | Rdn[]): string {
  const rdns = typeof dn === 'string' ? parseDN(dn) : dn;
  return rdns
    .map((rdn) =>
      rdn
        .map((ava) => `${ava.type.toLowerCase()}=${escapeDNValue(ava.value.toLowerCase())}`)
        .sort()
        .join('+'),
    )
    .join(',');
}

/** Is `dn` the container itself or below it? */
export function isWithin(dn: Rdn[], container: Rdn[]): boolean {
  if (container.length > dn.length) return false;
  const offset = dn.length - container.length;
  for (let i = 0; i < container.length; i++) {
    if (dnKey([dn[offset + i]!]) !== dnKey([container[i]!])) return false;
  }
  return true;
}
