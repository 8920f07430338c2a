/**
 * What a function of the expression language is to the compiler: its arity and a builder that turns a call
 * into an evaluator. Apart from compile.ts so the functions need not import the compiler that looks them up.
 */
import type { Value } from '../../core/values.js';
import type { ExpressionSyntaxCode } from '../errors.js';
import type { Evaluator } from './coerce.js';
import type { Node } from './parser.js';

/** One argument of a call, as a function's builder sees it. */
export interface Arg {
  readonly node: Node;
  readonly evaluate: Evaluator;
  /** left empty in the source: Switch([a], , "x", "y") */
  readonly omitted: boolean;
  /** the value when it is known at compile time (a literal, or a pure function of literals) */
  readonly constant: Value[] | undefined;
}

/** What a function's builder gets: its arguments and a way to report a compile-time error at the right place. */
export interface CallSite {
  /** the function's name as written */
  readonly name: string;
  readonly start: number;
  readonly args: readonly Arg[];
  /** the call is the whole expression (SelectUniqueValue must be) */
  readonly topLevel: boolean;
  fail(code: ExpressionSyntaxCode, message: string, argIndex?: number, expected?: string): never;
}

export interface FunctionSpec {
  /** canonical spelling, as Microsoft documents it */
  readonly name: string;
  readonly minArgs: number;
  /** null: any number */
  readonly maxArgs: number | null;
  /** false when two calls with the same arguments may differ (Now, Guid) or have an effect (Error) */
  readonly pure?: boolean;
  build(site: CallSite): Evaluator;
}
