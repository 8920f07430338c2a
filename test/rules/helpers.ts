import type { Value } from '../../src/core/values.js';
import { compileExpression, type EvaluationOptions, type FlowInput } from '../../src/rules/index.js';

type Attrs = Record<string, Value | Value[] | null | undefined>;

/** A FlowInput over plain attributes: single values or lists, names matched case-insensitively. */
export function input(attrs: Attrs = {}, groups: string[] = []): FlowInput {
  const map = new Map<string, Value[]>();
  for (const [k, v] of Object.entries(attrs)) {
    map.set(k.toLowerCase(), v === null || v === undefined ? [] : Array.isArray(v) ? v : [v]);
  }
  return {
    get: (name) => map.get(name.toLowerCase()) ?? [],
    isMemberOf: (group) => groups.includes(group),
  };
}

/** Compile and evaluate in one go. */
export function run(source: string, attrs: Attrs = {}, options?: EvaluationOptions): Value[] | undefined {
  return compileExpression(source).evaluate(input(attrs), options);
}

/** The single value of a result (fails the test when there is not exactly one). */
export function one(source: string, attrs: Attrs = {}, options?: EvaluationOptions): Value {
  const result = run(source, attrs, options);
  if (result?.length !== 1)
    throw new Error(`expected one value from ${source}, got ${JSON.stringify(result)}`);
  return result[0]!;
}
