/**
 * Property test: whatever the text, compileExpression returns a CompiledExpression or throws an
 * ExpressionSyntaxError whose offset lies within the text; evaluating whatever compiled throws nothing but
 * ExpressionEvaluationError. A seeded generator makes every failure reproducible: the seed is in the message.
 */
import { describe, expect, it } from 'vitest';
import type { Value } from '../../src/core/values.js';
import {
  compileExpression,
  ExpressionEvaluationError,
  ExpressionSyntaxError,
  type FlowInput,
  listFunctions,
} from '../../src/rules/index.js';

/** mulberry32: small, fast, good enough to explore inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FUNCTIONS = listFunctions();
const ATTRIBUTES = ['a', 'b', 'mail', 'n', 'bin', 'refs', 'multi', 'date', 'empty'];
const SNIPPETS = [
  '"',
  '\\"',
  '[',
  ']',
  '(',
  ')',
  ',',
  ' ',
  '&',
  '&H',
  '&&',
  '||',
  '=',
  '<>',
  '<',
  '>=',
  '+',
  '-',
  '*',
  '/',
  '"x"',
  '""',
  '0',
  '1',
  '-1',
  '3.5',
  '1e999',
  'True',
  'False',
  'Null',
  'vbTextCompare',
  'UTF8',
  '\n',
  '\u0000',
  'é',
  '😀',
];

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!;
}

/** A random, mostly well-formed expression, to reach deep into the functions. */
function expression(rand: () => number, depth: number): string {
  const r = rand();
  if (depth > 4 || r < 0.3) {
    const leaf = rand();
    if (leaf < 0.4) return `[${pick(rand, ATTRIBUTES)}]`;
    if (leaf < 0.7)
      return JSON.stringify(
        pick(rand, ['', 'x', 'John Doe', '2021-08-24', 'a,b', '12', 'SMTP:', '(a+)+', 'cn=x,dc=y', 'd']),
      );
    if (leaf < 0.85) return String(pick(rand, [0, 1, 2, -3, 7, 64, 1000, 129699324000000000]));
    if (leaf < 0.95) return pick(rand, ['True', 'False', 'Null']);
    return '';
  }
  if (r < 0.4) {
    return `${expression(rand, depth + 1)} ${pick(rand, ['=', '<>', '<', '>=', '&', '&&', '||', '+', '-', '*', '/'])} ${expression(rand, depth + 1)}`;
  }
  const fn = pick(rand, FUNCTIONS);
  const max = fn.maxArgs ?? fn.minArgs + 4;
  const count = fn.minArgs + Math.floor(rand() * (max - fn.minArgs + 1));
  const args = Array.from({ length: count }, () => expression(rand, depth + 1));
  return `${fn.name}(${args.join(', ')})`;
}

function mutate(rand: () => number, source: string): string {
  let s = source;
  const edits = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * (s.length + 1));
    const op = rand();
    if (op < 0.35) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 3));
    else if (op < 0.75) s = s.slice(0, at) + pick(rand, SNIPPETS) + s.slice(at);
    else s = s.slice(0, at) + String.fromCharCode(Math.floor(rand() * 0x250)) + s.slice(at + 1);
  }
  return s;
}

function randomInput(rand: () => number): FlowInput {
  const values: Record<string, Value[]> = {
    a: [pick(rand, ['John', '', ' x ', 'ÄÖü', '12', 'true'])],
    b: rand() < 0.3 ? [] : [pick(rand, ['Doe', 'x,y', 'SMTP:a@b', '-5'])],
    mail: ['john.doe@contoso.com'],
    n: [pick(rand, [0, 1, -1, 2.5, 514, Number.MAX_SAFE_INTEGER])],
    bin: [new Uint8Array([1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0])],
    refs: [{ ref: 'cn=a,dc=x' }, { ref: 'cn=b,dc=x' }],
    multi: ['x', 'y', 'x', ''],
    date: [pick(rand, ['2021-08-24T10:00:00Z', '8/25/2021 5:41:18 PM', 'not a date'])],
    empty: [],
  };
  return { get: (name) => values[name] ?? [], isMemberOf: () => rand() < 0.5 };
}

function check(source: string, rand: () => number, seed: number): void {
  let compiled: ReturnType<typeof compileExpression>;
  try {
    compiled = compileExpression(source);
  } catch (err) {
    if (!(err instanceof ExpressionSyntaxError)) {
      throw new Error(`seed ${seed}: compiling ${JSON.stringify(source)} threw ${String(err)}`);
    }
    if (err.offset < 0 || err.offset > source.length) {
      throw new Error(`seed ${seed}: offset ${err.offset} outside ${JSON.stringify(source)}`);
    }
    return;
  }
  for (let i = 0; i < 3; i++) {
    try {
      const result = compiled.evaluate(randomInput(rand), {
        now: new Date(1_700_000_000_000),
        isUnique: () => rand() < 0.5,
      });
      if (result !== undefined && !Array.isArray(result)) throw new Error('not a list');
    } catch (err) {
      if (!(err instanceof ExpressionEvaluationError)) {
        throw new Error(`seed ${seed}: evaluating ${JSON.stringify(source)} threw ${String(err)}`);
      }
    }
  }
}

describe('expression fuzzing', () => {
  it('random text: a compiled expression or a positioned ExpressionSyntaxError, nothing else', () => {
    for (let seed = 1; seed <= 6000; seed++) {
      const rand = prng(seed);
      const length = Math.floor(rand() * 40);
      let source = '';
      for (let i = 0; i < length; i++)
        source += rand() < 0.5 ? pick(rand, SNIPPETS) : String.fromCharCode(32 + Math.floor(rand() * 95));
      check(source, rand, seed);
    }
  });

  it('generated and mutated expressions: evaluation throws only ExpressionEvaluationError', () => {
    let compiled = 0;
    for (let seed = 10_001; seed <= 18_000; seed++) {
      const rand = prng(seed);
      const valid = expression(rand, 0);
      check(valid, rand, seed);
      check(mutate(rand, valid), rand, seed);
      try {
        compileExpression(valid);
        compiled++;
      } catch {
        // arguments of the wrong kind for a function: fine, counted below
      }
    }
    // The generator must reach the evaluator, not only the parser.
    expect(compiled).toBeGreaterThan(2000);
  });

  it('an expression at the 10,000-character limit compiles, and one past it is refused', () => {
    let source = 'Join(","';
    while (source.length < 9_900) source += ', [a]';
    source += ')';
    expect(compileExpression(source).evaluate({ get: () => ['x'] })).toHaveLength(1);
    expect(() => compileExpression(`${source}${' '.repeat(10_001 - source.length)}`)).toThrow(
      ExpressionSyntaxError,
    );
  });
});
