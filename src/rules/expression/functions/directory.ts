/** Distinguished names: DNComponent, DNComponentRev, EscapeDNComponent (RFC 4514). */
import type { FunctionSpec } from '../spec.js';
import { badValue, mapText, NULL, toText } from '../coerce.js';
import { enumArg, integerArg } from './helpers.js';

interface Rdn {
  type: string;
  value: string;
}

/** Split a DN into RDNs, honouring backslash escapes (\, and \2C) and quoted values. */
function parseDn(dn: string): Rdn[] | undefined {
  const rdns: Rdn[] = [];
  let current = '';
  let inQuotes = false;
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i]!;
    if (ch === '\\' && i + 1 < dn.length) {
      current += ch + dn[i + 1];
      i++;
    } else if (ch === '"') {
      inQuotes = !inQuotes;
      current += ch;
    } else if ((ch === ',' || ch === ';') && !inQuotes) {
      const rdn = parseRdn(current);
      if (!rdn) return undefined;
      rdns.push(rdn);
      current = '';
    } else {
      current += ch;
    }
  }
  if (inQuotes) return undefined;
  if (current.trim() !== '') {
    const rdn = parseRdn(current);
    if (!rdn) return undefined;
    rdns.push(rdn);
  }
  return rdns;
}

function parseRdn(text: string): Rdn | undefined {
  const eq = text.indexOf('=');
  if (eq <= 0) return undefined;
  return { type: text.slice(0, eq).trim(), value: unescapeValue(text.slice(eq + 1).trim()) };
}

function unescapeValue(raw: string): string {
  if (raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2)
    return raw.slice(1, -1).replace(/\\(.)/g, '$1');
  if (!raw.includes('\\')) return raw;
  // \XX hex pairs are bytes of UTF-8; \c is the character itself.
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\\' && /^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (ch === '\\' && i + 1 < raw.length) {
      bytes.push(...Buffer.from(raw[i + 1]!, 'utf8'));
      i++;
    } else {
      bytes.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Escape an attribute value for a DN: , + " \ < > ; and = everywhere, # and a space first, a space last. */
export function escapeDnValue(value: string): string {
  let out = value.replace(/[,+"\\<>;=]/g, '\\$&').replace(/\0/g, '\\00');
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

function dnComponent(name: string, fromRight: boolean): FunctionSpec {
  return {
    name,
    minArgs: 2,
    maxArgs: fromRight ? 3 : 2,
    build(site) {
      const source = site.args[0]!.evaluate;
      const index = integerArg(site, 1, 'ComponentNumber');
      const skipDc = fromRight && enumArg(site, 2, 'Options', ['DC']) === 'DC';
      return (ctx) => {
        const n = index(ctx);
        const out: string[] = [];
        for (const v of source(ctx)) {
          let rdns = parseDn(toText(v, name));
          if (!rdns) throw badValue(name, 'the value is not a distinguished name');
          if (skipDc) rdns = rdns.filter((r) => r.type.toLowerCase() !== 'dc');
          const rdn = fromRight ? rdns[rdns.length - n] : rdns[n - 1];
          if (n >= 1 && rdn) out.push(rdn.value);
        }
        return out.length === 0 ? NULL : out;
      };
    },
  };
}

export const directoryFunctions: FunctionSpec[] = [
  dnComponent('DNComponent', false),
  dnComponent('DNComponentRev', true),
  {
    name: 'EscapeDNComponent',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      // Microsoft's example passes "cn=" & [displayName]: the type before the first "=" stays as it is.
      return (ctx) =>
        mapText(source(ctx), 'EscapeDNComponent', (s) => {
          const m = /^([A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)=/.exec(s);
          return m ? m[0] + escapeDnValue(s.slice(m[0].length)) : escapeDnValue(s);
        });
    },
  },
];
