import type { Value } from '../../core/values.js';
import type { ColumnType } from './settings.js';

/** How one column becomes one attribute. */
export interface ColumnPlan {
  index: number;
  column: string;
  attribute: string;
  type: ColumnType;
  /** split the cell into several values on this separator */
  separator: string | undefined;
  reference: boolean;
  secret: boolean;
}

export class CellError {
  constructor(
    readonly code: string,
    readonly message: string,
  ) {}
}

/** The values of one cell, or a CellError. An empty cell (or part of a multi-valued cell) is no value. */
export function convertCell(plan: ColumnPlan, cell: string, trim: boolean): Value[] | CellError {
  if (plan.separator === undefined) {
    if (cell === '') return [];
    const value = convertValue(plan, cell);
    return value instanceof CellError ? value : [value];
  }
  const values: Value[] = [];
  for (const part of cell.split(plan.separator)) {
    const text = trim ? part.trim() : part;
    if (text === '') continue;
    const value = convertValue(plan, text);
    if (value instanceof CellError) return value;
    values.push(value);
  }
  return values;
}

function convertValue(plan: ColumnPlan, text: string): Value | CellError {
  if (plan.reference) return { ref: text };
  switch (plan.type) {
    case 'string':
      return text;
    case 'number':
      return NUMBER.test(text) ? Number(text) : invalid(plan, text, 'CSV_INVALID_NUMBER', 'a number');
    case 'boolean': {
      const value = BOOLEANS[text.toLowerCase()];
      return value ?? invalid(plan, text, 'CSV_INVALID_BOOLEAN', 'true/false, yes/no or 1/0');
    }
    case 'date':
      return isoDate(text) ?? invalid(plan, text, 'CSV_INVALID_DATE', 'a date (YYYY-MM-DD or ISO 8601)');
  }
}

// Decimal notation only: Number() alone would also take '0x1F', 'Infinity' and ' '.
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

const BOOLEANS: Record<string, boolean | undefined> = {
  true: true,
  yes: true,
  '1': true,
  false: false,
  no: false,
  '0': false,
};

// YYYY-MM-DD, optionally with a time (seconds and fraction optional) and a zone; no zone means UTC.
const DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

const DAY_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isoDate(text: string): string | undefined {
  // most HR dates are plain days: build the ISO string without a Date object
  const dayOnly = DAY_ONLY.exec(text);
  if (dayOnly) {
    const [, y, m, d] = dayOnly;
    const month = Number(m);
    const date = Number(d);
    const year = Number(y);
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    const days = month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1];
    if (days === undefined || date < 1 || date > days) return undefined;
    return `${text}T00:00:00.000Z`;
  }
  const m = DATE.exec(text);
  if (!m) return undefined;
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', zone = 'Z'] = m;
  const millis = fraction.padEnd(3, '0').slice(0, 3);
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const date = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}.${millis}${offset}`);
  if (Number.isNaN(date.getTime())) return undefined;
  // Date rolls 2023-02-30 over to March 2nd: refuse dates that do not exist instead of moving them
  const check = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (check.getUTCMonth() !== Number(month) - 1 || check.getUTCDate() !== Number(day)) return undefined;
  return date.toISOString();
}

function invalid(plan: ColumnPlan, text: string, code: string, expected: string): CellError {
  const shown = plan.secret
    ? '(secret value)'
    : JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
  return new CellError(code, `column ${plan.column}: ${shown} is not ${expected}`);
}
