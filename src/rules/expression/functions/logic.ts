/** Program flow and tests: IIF, Switch, Coalesce, Not, IsNull, IsNullOrEmpty, IsPresent. */
import type { Value } from '../../../core/values.js';
import type { CallSite, FunctionSpec } from '../spec.js';
import { ExpressionEvaluationError } from '../../errors.js';
import { type Evaluator, firstText, isNullOrEmpty, NULL, truthOf } from '../coerce.js';
import { textArg } from './helpers.js';

/**
 * Switch has two documented shapes. Entra's Switch(source, defaultValue, key1, value1, …) compares a value
 * with keys; Connect sync's Switch(condition1, value1, condition2, value2, …) returns the value of the first
 * true condition. Connect's is taken when the first argument is a condition: a comparison, && or ||, True or
 * False, or a function that returns a truth value (IsPresent, IsNull, …). Microsoft's IsPresent example,
 * Switch(IsPresent([directManager]), [directManager], IsPresent([skiplevelManager]), …), means exactly that.
 */
const CONDITION_FUNCTIONS = new Set(
  [
    'IsPresent',
    'IsNull',
    'IsNullOrEmpty',
    'IsEmpty',
    'IsString',
    'IsNumeric',
    'IsDate',
    'IsGuid',
    'IsBitSet',
    'Not',
    'CBool',
  ].map((n) => n.toLowerCase()),
);
const CONDITION_OPERATORS = new Set(['=', '<>', '<', '<=', '>', '>=', '&&', '||']);

function isConnectSwitch(site: CallSite): boolean {
  const first = site.args[0]!.node;
  if (first.kind === 'boolean') return true;
  if (first.kind === 'binary') return CONDITION_OPERATORS.has(first.op);
  if (first.kind === 'call') return CONDITION_FUNCTIONS.has(first.name.toLowerCase());
  return false;
}

function connectSwitch(site: CallSite): Evaluator {
  if (site.args.length % 2 !== 0) {
    site.fail(
      'EXPRESSION_ARGUMENT_COUNT',
      'takes condition and value pairs: an even number of arguments',
      site.args.length - 1,
      'a value for the last condition',
    );
  }
  const pairs: [Evaluator, Evaluator][] = [];
  for (let i = 0; i < site.args.length; i += 2)
    pairs.push([site.args[i]!.evaluate, site.args[i + 1]!.evaluate]);
  return (ctx) => {
    for (const [condition, value] of pairs) if (truthOf(condition(ctx), 'Switch')) return value(ctx);
    return NULL;
  };
}

/** Entra's app-role functions read Entra's appRoleAssignments object, which no idsync source has. */
function notSupported(name: string): FunctionSpec {
  return {
    name,
    minArgs: 0,
    maxArgs: null,
    build(site): Evaluator {
      return site.fail(
        'EXPRESSION_NOT_SUPPORTED',
        'is not supported here because idsync has no app role assignments: flow a group or role attribute instead, or scope with IS MEMBER OF',
        undefined,
        'another function',
      );
    },
  };
}

const TRUE: Value[] = [true];
const FALSE: Value[] = [false];

function test(name: string, predicate: (values: Value[]) => boolean): FunctionSpec {
  return {
    name,
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) => (predicate(source(ctx)) ? TRUE : FALSE);
    },
  };
}

export const logicFunctions: FunctionSpec[] = [
  {
    name: 'IIF',
    minArgs: 3,
    maxArgs: 3,
    build(site) {
      const [condition, ifTrue, ifFalse] = site.args.map((a) => a.evaluate) as [
        Evaluator,
        Evaluator,
        Evaluator,
      ];
      return (ctx) => (truthOf(condition(ctx), 'IIF') ? ifTrue(ctx) : ifFalse(ctx));
    },
  },
  {
    name: 'Switch',
    minArgs: 2,
    maxArgs: null,
    build(site) {
      if (isConnectSwitch(site)) return connectSwitch(site);
      if (site.args.length < 4) {
        site.fail(
          'EXPRESSION_ARGUMENT_COUNT',
          'takes source, defaultValue, then at least one key and value',
          0,
          'four or more arguments',
        );
      }
      if (site.args.length % 2 !== 0) {
        site.fail(
          'EXPRESSION_ARGUMENT_COUNT',
          `takes source, defaultValue, then key and value pairs: an even number of arguments, not ${site.args.length}`,
          site.args.length - 1,
          'a value for the last key',
        );
      }
      const source = site.args[0]!.evaluate;
      const fallback = site.args[1]!.evaluate;
      const pairs: [Evaluator, Evaluator][] = [];
      for (let i = 2; i < site.args.length; i += 2)
        pairs.push([site.args[i]!.evaluate, site.args[i + 1]!.evaluate]);
      // Case-sensitive comparison of text, as Microsoft documents; a null source matches the key "".
      const keyOf = (values: Value[]) => firstText(values, 'Switch') ?? '';
      if (site.args.every((a, i) => i < 2 || i % 2 === 1 || a.constant !== undefined)) {
        const table = new Map<string, Evaluator>();
        for (let i = 2; i < site.args.length; i += 2) {
          const key = keyOf(site.args[i]!.constant!);
          if (!table.has(key)) table.set(key, site.args[i + 1]!.evaluate);
        }
        return (ctx) => (table.get(keyOf(source(ctx))) ?? fallback)(ctx);
      }
      return (ctx) => {
        const key = keyOf(source(ctx));
        for (const [k, v] of pairs) if (keyOf(k(ctx)) === key) return v(ctx);
        return fallback(ctx);
      };
    },
  },
  {
    name: 'Coalesce',
    minArgs: 1,
    maxArgs: null,
    build(site) {
      const sources = site.args.map((a) => a.evaluate);
      // "Not null" here also means "not empty": a flow never writes "", so "" cannot be the first value.
      return (ctx) => {
        for (const source of sources) {
          const values = source(ctx);
          if (!isNullOrEmpty(values)) return values;
        }
        return NULL;
      };
    },
  },
  {
    name: 'Not',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) => (truthOf(source(ctx), 'Not') ? FALSE : TRUE);
    },
  },
  {
    name: 'IgnoreFlowIfNullOrEmpty',
    minArgs: 1,
    maxArgs: 1,
    pure: false,
    build(site) {
      const source = site.args[0]!.evaluate;
      // Anywhere in the expression, a null or empty result here drops the whole flow for this object.
      return (ctx) => {
        const values = source(ctx);
        if (isNullOrEmpty(values)) ctx.ignore = true;
        return values;
      };
    },
  },
  {
    name: 'Error',
    minArgs: 1,
    maxArgs: 1,
    pure: false,
    build(site) {
      const message = textArg(site, 0);
      return (ctx) => {
        throw new ExpressionEvaluationError('EXPRESSION_ERROR_FUNCTION', `Error(): ${message(ctx)}`, 'Error');
      };
    },
  },
  {
    name: 'SelectUniqueValue',
    minArgs: 2,
    maxArgs: null,
    pure: false,
    build(site) {
      if (!site.topLevel) {
        site.fail(
          'EXPRESSION_NOT_SUPPORTED',
          'must be the whole expression; it cannot be nested',
          undefined,
          'SelectUniqueValue at the top',
        );
      }
      const rules = site.args.map((a) => a.evaluate);
      // Rules are tried in order and only as far as needed; the first value the target does not have wins.
      // The expression does not know its target attribute: the engine's isUnique knows (it is passed "").
      return (ctx) => {
        const isUnique = ctx.options?.isUnique;
        for (const rule of rules) {
          const candidate = rule(ctx).find((v) => v !== '');
          if (candidate === undefined) continue;
          if (!isUnique || isUnique('', candidate)) return [candidate];
        }
        throw new ExpressionEvaluationError(
          'EXPRESSION_NO_UNIQUE_VALUE',
          `SelectUniqueValue: every one of the ${rules.length} rules gave a value that is already taken, or none`,
          'SelectUniqueValue',
        );
      };
    },
  },
  notSupported('AppRoleAssignmentsComplex'),
  notSupported('SingleAppRoleAssignment'),
  test('IsNull', (values) => values.length === 0),
  test('IsNullOrEmpty', isNullOrEmpty),
  test('IsPresent', (values) => !isNullOrEmpty(values)),
];
