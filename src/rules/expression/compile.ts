/**
 * Turns a parsed expression into a tree of closures, once, when the configuration loads. Evaluating is then
 * a chain of direct calls: no AST walk, no lookup by name, constants folded.
 */
import type { Value } from '../../core/values.js';
import { ExpressionEvaluationError, ExpressionSyntaxError } from '../errors.js';
import type { CompiledExpression, EvaluationOptions, FlowInput } from '../types.js';
import {
  type EvalContext,
  type Evaluator,
  NULL,
  badValue,
  numberOf,
  toNumber,
  toText,
  truthOf,
} from './coerce.js';
import { findFunction } from './functions/index.js';
import { type BinaryOperator, type Node, parseExpression, truncate } from './parser.js';
import type { Arg, CallSite } from './spec.js';

/** Evaluation chains deeper than this are refused; "1+1+…+1" within 10,000 characters would be 5,000 deep. */
const MAX_NODE_DEPTH = 200;

const CONSTANT_INPUT: FlowInput = { get: () => NULL };

/**
 * What compileExpression returns: the contract's CompiledExpression plus `redacts`, true when the expression
 * uses Redact(), so that logs, plans and explanations print "[Redact]" instead of the values.
 */
export interface CompiledFlowExpression extends CompiledExpression {
  readonly redacts: boolean;
}

export function compileExpression(source: string): CompiledFlowExpression {
  if (typeof source !== 'string') {
    throw new ExpressionSyntaxError('EXPRESSION_SYNTAX', 'the expression must be a string', 0, 'a string');
  }
  const root = parseExpression(source);
  const attributes = new Map<string, string>();
  const compiler = new Compiler(attributes);
  const evaluate = compiler.compile(root, 0);
  const attributeList = Object.freeze([...attributes.values()]);
  return Object.freeze({
    source,
    attributes: attributeList,
    redacts: compiler.redacts,
    evaluate(input: FlowInput, options?: EvaluationOptions): Value[] | undefined {
      const ctx: EvalContext = { input, options, ignore: false };
      const result = evaluate(ctx);
      if (ctx.ignore) return undefined;
      return withoutEmptyStrings(result);
    },
  });
}

/**
 * A flow never writes "": directories cannot store it and Entra treats it as null (IsNullOrEmpty). Results
 * are shared with constants and inputs, so a copy is made only when there is something to drop.
 */
function withoutEmptyStrings(values: Value[]): Value[] {
  for (let i = 0; i < values.length; i++) {
    if (values[i] === '') return values.filter((v) => v !== '');
  }
  return values;
}

class Compiler {
  /** Redact() appears somewhere: the engine must not show this flow's values */
  redacts = false;

  constructor(private readonly attributes: Map<string, string>) {}

  compile(node: Node, depth: number): Evaluator {
    if (depth > MAX_NODE_DEPTH) {
      throw new ExpressionSyntaxError(
        'EXPRESSION_SYNTAX',
        `the expression is nested more than ${MAX_NODE_DEPTH} levels deep`,
        node.start,
        'a simpler expression',
      );
    }
    switch (node.kind) {
      case 'string':
      case 'number':
      case 'boolean':
        return constant([node.value]);
      case 'name':
        return constant([node.name]);
      case 'null':
        return constant(NULL);
      case 'omitted':
        throw new ExpressionSyntaxError(
          'EXPRESSION_SYNTAX',
          'a value is missing here',
          node.start,
          'a value',
        );
      case 'attribute':
        return this.attribute(node.name);
      case 'negate': {
        const operand = this.compile(node.operand, depth + 1);
        return (ctx) => {
          const v = operand(ctx)[0];
          if (v === undefined) return NULL;
          return [-toNumber(v, '-', 'the operand of -')];
        };
      }
      case 'binary':
        return this.binary(node.op, this.compile(node.left, depth + 1), this.compile(node.right, depth + 1));
      case 'call':
        return this.call(node, depth);
    }
  }

  private attribute(name: string): Evaluator {
    const key = name.toLowerCase();
    if (!this.attributes.has(key)) this.attributes.set(key, name);
    return (ctx) => ctx.input.get(name);
  }

  private call(node: Extract<Node, { kind: 'call' }>, depth: number): Evaluator {
    const spec = findFunction(node.name);
    if (!spec) {
      throw new ExpressionSyntaxError(
        'EXPRESSION_UNKNOWN_FUNCTION',
        `unknown function "${truncate(node.name)}"`,
        node.start,
        'a known function name (see docs/expressions.md)',
      );
    }
    const count = node.args.length;
    if (count < spec.minArgs || (spec.maxArgs !== null && count > spec.maxArgs)) {
      const wanted =
        spec.maxArgs === null
          ? `at least ${spec.minArgs}`
          : spec.minArgs === spec.maxArgs
            ? `${spec.minArgs}`
            : `${spec.minArgs} to ${spec.maxArgs}`;
      const at = count > (spec.maxArgs ?? count) ? node.args[spec.maxArgs!]!.start : node.start;
      throw new ExpressionSyntaxError(
        'EXPRESSION_ARGUMENT_COUNT',
        `${spec.name} takes ${wanted} argument${wanted === '1' ? '' : 's'}, not ${count}`,
        at,
        `${wanted} argument${wanted === '1' ? '' : 's'}`,
      );
    }
    const args: Arg[] = node.args.map((argNode) => {
      if (argNode.kind === 'omitted') {
        return { node: argNode, evaluate: constant(NULL), omitted: true, constant: NULL };
      }
      const evaluate = this.compile(argNode, depth + 1);
      return { node: argNode, evaluate, omitted: false, constant: constantOf(evaluate) };
    });
    if (spec.name === 'Redact') this.redacts = true;
    const site: CallSite = {
      name: spec.name,
      start: node.start,
      args,
      topLevel: depth === 0,
      fail(code, message, argIndex, expected = 'a different argument') {
        const at = argIndex === undefined ? node.start : (node.args[argIndex]?.start ?? node.start);
        throw new ExpressionSyntaxError(code, `${spec.name}: ${message}`, at, expected);
      },
    };
    const evaluate = spec.build(site);
    if (spec.pure !== false && args.every((a) => a.constant !== undefined)) return fold(evaluate);
    return evaluate;
  }

  private binary(op: BinaryOperator, left: Evaluator, right: Evaluator): Evaluator {
    switch (op) {
      case '||':
        return (ctx) => [truthOf(left(ctx), '||') || truthOf(right(ctx), '||')];
      case '&&':
        return (ctx) => [truthOf(left(ctx), '&&') && truthOf(right(ctx), '&&')];
      case '&':
        return (ctx) => [textOf(left(ctx), '&') + textOf(right(ctx), '&')];
      case '=':
        return (ctx) => [compareValues(left(ctx), right(ctx), '=') === 0];
      case '<>':
        return (ctx) => [compareValues(left(ctx), right(ctx), '<>') !== 0];
      case '<':
        return (ctx) => [ordered(compareValues(left(ctx), right(ctx), '<')) < 0];
      case '<=':
        return (ctx) => [ordered(compareValues(left(ctx), right(ctx), '<=')) <= 0];
      case '>':
        return (ctx) => [ordered(compareValues(left(ctx), right(ctx), '>')) > 0];
      case '>=':
        return (ctx) => [ordered(compareValues(left(ctx), right(ctx), '>=')) >= 0];
      case '+':
        return arithmetic(left, right, '+', (a, b) => a + b);
      case '-':
        return arithmetic(left, right, '-', (a, b) => a - b);
      case '*':
        return arithmetic(left, right, '*', (a, b) => a * b);
      case '/':
        return arithmetic(left, right, '/', (a, b) => {
          if (b === 0) throw badValue('/', 'division by zero');
          return a / b;
        });
    }
  }
}

const constants = new WeakMap<Evaluator, Value[]>();

function constant(values: Value[]): Evaluator {
  const fn: Evaluator = () => values;
  constants.set(fn, values);
  return fn;
}

function constantOf(evaluate: Evaluator): Value[] | undefined {
  return constants.get(evaluate);
}

/** Evaluate a pure call of constants now; if it fails, leave the failure to run time, where it belongs. */
function fold(evaluate: Evaluator): Evaluator {
  try {
    return constant(evaluate({ input: CONSTANT_INPUT, options: undefined, ignore: false }));
  } catch (err) {
    if (err instanceof ExpressionEvaluationError) return evaluate;
    throw err;
  }
}

function textOf(values: Value[], fn: string): string {
  const v = values[0];
  return v === undefined ? '' : toText(v, fn);
}

function arithmetic(
  left: Evaluator,
  right: Evaluator,
  op: string,
  f: (a: number, b: number) => number,
): Evaluator {
  return (ctx) => {
    const a = left(ctx)[0];
    const b = right(ctx)[0];
    if (a === undefined || b === undefined) return NULL;
    const result = f(
      toNumber(a, op, `the left operand of ${op}`),
      toNumber(b, op, `the right operand of ${op}`),
    );
    if (!Number.isFinite(result)) throw badValue(op, 'the result is not a finite number');
    return [result];
  };
}

const UNORDERED = Number.NaN;

function ordered(c: number): number {
  if (Number.isNaN(c)) throw badValue('comparison', 'these values have no order (binary or true/false)');
  return c;
}

/**
 * Compare the first values of two operands: -1, 0, 1, or NaN when equal/unequal is all that can be said.
 * Null reads as "" (so [country] = "" is true when country is absent — Entra documents such a condition as
 * failing; here it works). Numbers compare as numbers when both sides read as numbers and at least one is
 * a number; booleans compare as truth values; everything else as case-sensitive text, as Switch does.
 */
export function compareValues(left: Value[], right: Value[], fn: string): number {
  const a = left[0] ?? '';
  const b = right[0] ?? '';
  if (typeof a === 'boolean' || typeof b === 'boolean') {
    const x = booleanReading(a);
    const y = booleanReading(b);
    if (x === undefined || y === undefined) return UNORDERED;
    return x === y ? 0 : UNORDERED;
  }
  if (typeof a === 'number' || typeof b === 'number') {
    const x = numberOf(a);
    const y = numberOf(b);
    if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array)) return UNORDERED;
    return Buffer.compare(a, b) === 0 ? 0 : UNORDERED;
  }
  const x = toText(a, fn);
  const y = toText(b, fn);
  return x < y ? -1 : x > y ? 1 : 0;
}

function booleanReading(v: Value): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const lower = v.trim().toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  if (typeof v === 'number') return v !== 0;
  return undefined;
}
