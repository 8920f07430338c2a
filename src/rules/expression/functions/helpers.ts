/** Small helpers shared by the function families. */
import type { Value } from '../../../core/values.js';
import type { Arg, CallSite } from '../spec.js';
import { type EvalContext, firstInteger, firstText, toText } from '../coerce.js';

/** An argument read as one piece of text (its first value); "" when null or omitted. */
export function textArg(site: CallSite, index: number): (ctx: EvalContext) => string {
  const arg = site.args[index];
  if (!arg || arg.omitted) return () => '';
  const fn = site.name;
  if (arg.constant) {
    const text = firstText(arg.constant, fn) ?? '';
    return () => text;
  }
  const evaluate = arg.evaluate;
  return (ctx) => firstText(evaluate(ctx), fn) ?? '';
}

/** An argument read as an integer; the fallback when omitted or null (no fallback: an error). */
export function integerArg(
  site: CallSite,
  index: number,
  what: string,
  fallback?: number,
): (ctx: EvalContext) => number {
  const arg = site.args[index];
  const fn = site.name;
  if (!arg || arg.omitted) {
    if (fallback === undefined) site.fail('EXPRESSION_BAD_ARGUMENT', `${what} is required`, index, what);
    return () => fallback;
  }
  if (arg.constant) {
    let n: number;
    try {
      n = firstInteger(arg.constant, fn, what, fallback);
    } catch {
      site.fail('EXPRESSION_BAD_ARGUMENT', `${what} must be a number`, index, 'a number');
    }
    return () => n;
  }
  const evaluate = arg.evaluate;
  return (ctx) => firstInteger(evaluate(ctx), fn, what, fallback);
}

/** A compile-time text argument (a literal): for patterns, intervals, formats. undefined when omitted. */
export function literalText(site: CallSite, index: number, what: string): string | undefined {
  const arg = site.args[index];
  if (!arg || arg.omitted) return undefined;
  if (!arg.constant) {
    site.fail(
      'EXPRESSION_BAD_ARGUMENT',
      `${what} must be a literal string`,
      index,
      `a literal string for ${what}`,
    );
  }
  const v = arg.constant[0];
  if (v === undefined) return undefined;
  try {
    return toText(v, site.name);
  } catch {
    site.fail('EXPRESSION_BAD_ARGUMENT', `${what} must be text`, index, `a literal string for ${what}`);
  }
}

/** An enumeration argument: a bare word or a string among `allowed` (case-insensitive). */
export function enumArg(
  site: CallSite,
  index: number,
  what: string,
  allowed: readonly string[],
): string | undefined {
  const arg = site.args[index];
  if (!arg || arg.omitted) return undefined;
  const text = literalText(site, index, what);
  if (text === undefined) return undefined;
  const found = allowed.find((a) => a.toLowerCase() === text.toLowerCase());
  if (!found)
    site.fail(
      'EXPRESSION_BAD_ARGUMENT',
      `${what} must be one of ${allowed.join(', ')}`,
      index,
      allowed.join(' or '),
    );
  return found;
}

export function isPresentArg(arg: Arg | undefined): arg is Arg {
  return arg !== undefined && !arg.omitted;
}

export function single(value: Value): Value[] {
  return [value];
}
