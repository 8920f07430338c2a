/**
 * How expression functions read values of the shared value model (src/core/values.ts): text, numbers and
 * truth values, with the VB-flavoured conversions Microsoft's functions use ("True"/"False" for booleans).
 */
import { isReference, type Value } from '../../core/values.js';
import { ExpressionEvaluationError } from '../errors.js';
import type { FlowInput, EvaluationOptions } from '../types.js';

/** What a compiled node reads while it runs; one per evaluation. */
export interface EvalContext {
  readonly input: FlowInput;
  readonly options: EvaluationOptions | undefined;
  /** set by IgnoreFlowIfNullOrEmpty when its expression is null or empty: the flow does not apply */
  ignore: boolean;
}

/** A compiled node: the values it produces. [] is null. Results are shared: never mutate them. */
export type Evaluator = (ctx: EvalContext) => Value[];

export const NULL: Value[] = Object.freeze([]) as unknown as Value[];

export function badValue(fn: string, message: string): ExpressionEvaluationError {
  return new ExpressionEvaluationError('EXPRESSION_BAD_VALUE', `${fn}: ${message}`, fn);
}

/** A value as text. Binary has no text form here: the caller must say how (ConvertToBase64, StringFromGuid). */
export function toText(value: Value, fn: string): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return numberToText(value);
    case 'boolean':
      return value ? 'True' : 'False';
  }
  if (isReference(value)) return value.ref;
  throw badValue(
    fn,
    'got a binary value where text is expected; convert it first (ConvertToBase64, StringFromGuid, StringFromSid)',
  );
}

export function numberToText(n: number): string {
  // Integers as digits, not 1e+21; the rest as JavaScript prints them.
  return Number.isInteger(n) && Math.abs(n) < 1e21 ? n.toFixed(0) : String(n);
}

/** The first value as text; undefined for null. */
export function firstText(values: Value[], fn: string): string | undefined {
  const v = values[0];
  return v === undefined ? undefined : toText(v, fn);
}

/** The first value as text; "" for null. */
export function textOrEmpty(values: Value[], fn: string): string {
  const v = values[0];
  return v === undefined ? '' : toText(v, fn);
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const HEX = /^&[Hh][0-9A-Fa-f]{1,13}$/;

/** A value as a number, or undefined when it has no numeric reading. */
export function numberOf(value: Value): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string') {
    const s = value.trim();
    if (NUMERIC.test(s)) return Number(s);
    if (HEX.test(s)) return Number.parseInt(s.slice(2), 16);
  }
  return undefined;
}

export function toNumber(value: Value, fn: string, what: string): number {
  const n = numberOf(value);
  if (n === undefined || !Number.isFinite(n)) throw badValue(fn, `${what} must be a number`);
  return n;
}

/** The first value as a number; the fallback for null (undefined fallback: null is an error). */
export function firstNumber(values: Value[], fn: string, what: string, fallback?: number): number {
  const v = values[0];
  if (v === undefined) {
    if (fallback === undefined) throw badValue(fn, `${what} is null; a number is needed`);
    return fallback;
  }
  return toNumber(v, fn, what);
}

export function firstInteger(values: Value[], fn: string, what: string, fallback?: number): number {
  const n = firstNumber(values, fn, what, fallback);
  return Math.trunc(n);
}

/**
 * Truth of a value: booleans as they are, "True"/"False" in any case, numbers non-zero (VB's CBool).
 * Null is false (Entra: a condition on a null attribute fails). Anything else is an error, so that a typo
 * such as IIF([department], ...) is reported rather than silently false.
 */
export function truthOf(values: Value[], fn: string): boolean {
  const v = values[0];
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    const lower = v.trim().toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false' || lower === '') return false;
    const n = numberOf(v);
    if (n !== undefined) return n !== 0;
  }
  throw badValue(fn, 'expected a condition (True or False, or a number)');
}

/** Apply a text function to each value of a (possibly multi-valued) argument; null stays null. */
export function mapText(values: Value[], fn: string, f: (text: string) => Value): Value[] {
  if (values.length === 0) return NULL;
  if (values.length === 1) return [f(toText(values[0]!, fn))];
  const out: Value[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f(toText(values[i]!, fn));
  return out;
}

export function isNullOrEmpty(values: Value[]): boolean {
  if (values.length === 0) return true;
  for (const v of values) if (!(typeof v === 'string' && v.length === 0)) return false;
  return true;
}
