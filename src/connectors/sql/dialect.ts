/**
 * What differs between the three SQL dialects when we write a statement: identifier quoting, placeholders,
 * row-value comparison and the database's clock. Values are never written into SQL text: every one goes
 * through `Params.add`, which returns its placeholder.
 */
import type { Driver } from './client.js';

export interface Dialect {
  readonly driver: Driver;
  /** quotes an identifier, each part of a dotted one ("hr.people") on its own */
  quote(name: string): string;
  /** the database's clock as an expression whose text parses as a UTC timestamp */
  readonly nowUtc: string;
  /** pg compares row values with an index range; MariaDB's optimizer does better with the expanded form */
  readonly rowValues: boolean;
}

function quoteWith(q: string) {
  return (name: string) =>
    name
      .split('.')
      .map((part) => q + part.replaceAll(q, q + q) + q)
      .join('.');
}

export function dialectFor(driver: Driver): Dialect {
  switch (driver) {
    case 'postgres':
      return { driver, quote: quoteWith('"'), nowUtc: 'clock_timestamp()', rowValues: true };
    case 'mysql':
      return { driver, quote: quoteWith('`'), nowUtc: 'UTC_TIMESTAMP(6)', rowValues: false };
    case 'sqlite':
      return {
        driver,
        quote: quoteWith('"'),
        nowUtc: "strftime('%Y-%m-%d %H:%M:%f', 'now')",
        rowValues: false,
      };
  }
}

/** Collects bound values for one statement. */
export class Params {
  readonly values: unknown[] = [];
  constructor(private readonly driver: Driver) {}
  add(value: unknown): string {
    this.values.push(value);
    return this.driver === 'postgres' ? `$${this.values.length}` : '?';
  }
}

/** "(a, b) > (x, y)" on the columns, written so each dialect's optimizer uses the index. */
export function greaterThan(dialect: Dialect, params: Params, columns: string[], values: unknown[]): string {
  const quoted = columns.map((c) => dialect.quote(c));
  if (columns.length === 1) return `${quoted[0]} > ${params.add(values[0])}`;
  if (dialect.rowValues) return `(${quoted.join(', ')}) > (${values.map((v) => params.add(v)).join(', ')})`;
  const alternatives: string[] = [];
  for (let i = 0; i < columns.length; i++) {
    const equal = quoted.slice(0, i).map((q, j) => `${q} = ${params.add(values[j])}`);
    alternatives.push(`(${[...equal, `${quoted[i]} > ${params.add(values[i])}`].join(' AND ')})`);
  }
  return `(${alternatives.join(' OR ')})`;
}

/** "(a, b) IN ((x, y), ...)" or "a IN (x, ...)". */
export function inList(dialect: Dialect, params: Params, columns: string[], tuples: unknown[][]): string {
  if (tuples.length === 0) return '1 = 0';
  if (columns.length === 1)
    return `${dialect.quote(columns[0]!)} IN (${tuples.map((t) => params.add(t[0])).join(', ')})`;
  const cols = `(${columns.map((c) => dialect.quote(c)).join(', ')})`;
  return `${cols} IN (${tuples.map((t) => `(${t.map((v) => params.add(v)).join(', ')})`).join(', ')})`;
}

/** "a = x AND b = y" */
export function equals(dialect: Dialect, params: Params, columns: string[], values: unknown[]): string {
  return columns.map((c, i) => `${dialect.quote(c)} = ${params.add(values[i])}`).join(' AND ');
}
