/** Program flow and tests: IIF, Switch, Coalesce, Not, IsNull, IsNullOrEmpty, IsPresent. */
import type { Value } from '../../../core/values.js';
import type { FunctionSpec } from '../compile.js';
import { ExpressionEvaluationError } from '../../errors.js';
import { type Evaluator, firstText, isNullOrEmpty, NULL, truthOf } from '../coerce.js';
import { textArg } from './helpers.js';

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
    minArgs: 4,
    maxArgs: null,
    build(site) {
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
  test('IsNull', (values) => values.length === 0),
  test('IsNullOrEmpty', isNullOrEmpty),
  test('IsPresent', (values) => !isNullOrEmpty(values)),
];
