/**
 * Statements the administrator supplies, with named parameters (`:givenName`, `:anchor`). Each name becomes a
 * driver placeholder and its value is bound; nothing is ever spliced into the text. Quoted strings,
 * identifiers, comments, PostgreSQL dollar quotes and `::` casts are left as they are.
 */
import type { Driver } from './client.js';

export interface NamedStatement {
  /** the text with placeholders */
  sql: string;
  /** the parameter names, in placeholder order */
  names: string[];
}

export function parseNamedStatement(text: string, driver: Driver): NamedStatement {
  const names: string[] = [];
  let out = '';
  let i = 0;
  const n = text.length;
  const copyQuoted = (quote: string, backslashEscapes: boolean) => {
    let j = i + 1;
    while (j < n) {
      const c = text[j]!;
      if (backslashEscapes && c === '\\') {
        j += 2;
        continue;
      }
      if (c === quote) {
        if (text[j + 1] === quote) {
          j += 2;
          continue;
        }
        break;
      }
      j++;
    }
    out += text.slice(i, j + 1);
    i = j + 1;
  };
  while (i < n) {
    const c = text[i]!;
    if (c === "'") copyQuoted("'", driver === 'mysql');
    else if (c === '"') copyQuoted('"', driver === 'mysql');
    else if (c === '`' && driver === 'mysql') copyQuoted('`', false);
    else if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      out += text.slice(i, stop);
      i = stop;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      out += text.slice(i, stop);
      i = stop;
    } else if (c === '$' && driver === 'postgres' && /^\$[A-Za-z_]?\w*\$/.test(text.slice(i))) {
      const tag = /^\$[A-Za-z_]?\w*\$/.exec(text.slice(i))![0];
      const end = text.indexOf(tag, i + tag.length);
      const stop = end === -1 ? n : end + tag.length;
      out += text.slice(i, stop);
      i = stop;
    } else if (c === ':' && text[i + 1] === ':') {
      out += '::';
      i += 2;
    } else if (c === ':' && /[A-Za-z_]/.test(text[i + 1] ?? '')) {
      const name = /^[A-Za-z_][\w.]*/.exec(text.slice(i + 1))![0].replace(/\.+$/, '');
      names.push(name);
      out += driver === 'postgres' ? `$${names.length}` : '?';
      i += 1 + name.length;
    } else {
      out += c;
      i++;
    }
  }
  return { sql: out, names };
}
