/**
 * zod issues as config problems a person can act on: each says what was expected ("anchor" is required
 * (expected: text or a list), not "Invalid input"), and an unknown key names the closest known one. Values
 * are described by their kind only, never printed: a connector block may hold a secret.
 */
import type { z } from 'zod';
import { closest } from '../core/suggest.js';

type Path = (string | number)[];

export interface SettingIssue {
  code: string;
  message: string;
  /** path from the parsed value's root */
  path: Path;
  /** an unknown setting: its key, so that the problem is placed at the key */
  key?: string;
}

export type Parsed<T> = { success: true; data: T } | { success: false; issues: SettingIssue[] };

/** safeParse with messages that say what was expected, and every problem at its own path. */
export function parseSettings<T>(schema: z.ZodType<T>, data: unknown): Parsed<T> {
  // the keys an object would have accepted, by the object's identity: for "did you mean"
  const known = new WeakMap<object, string[]>();
  const result = schema.safeParse(data, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        const shape = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
        if (shape && iss.input && typeof iss.input === 'object') known.set(iss.input, Object.keys(shape));
        return undefined;
      }
      return describeIssue(iss);
    },
  });
  if (result.success) return { success: true, data: result.data };
  const issues = result.error.issues.flatMap((issue): SettingIssue[] => {
    const path = issue.path as Path;
    if (issue.code === 'unrecognized_keys') {
      const parent = valueAt(data, path);
      const candidates = parent && typeof parent === 'object' ? (known.get(parent) ?? []) : [];
      return issue.keys.map((key) => {
        const suggestion = closest(key, candidates);
        const hint = suggestion ? `did you mean "${suggestion}"?` : `expected: ${candidates.join(', ')}`;
        return { code: 'CONFIG_UNKNOWN_SETTING', message: `unknown setting "${key}" (${hint})`, path, key };
      });
    }
    if (issue.code === 'invalid_format' && !/^(expected|invalid)\b/i.test(issue.message)) {
      // the schema's own words name the format ("a duration such as 30s, 2m or 1h")
      return [{ code: 'CONFIG_INVALID_FORMAT', message: `expected ${issue.message}`, path }];
    }
    const missing = path.length > 0 && valueAt(data, path) === undefined && ['invalid_type', 'invalid_union', 'invalid_value'].includes(issue.code);
    return [{ code: missing ? 'CONFIG_REQUIRED' : `CONFIG_${issue.code.toUpperCase()}`, message: issue.message, path }];
  });
  return { success: false, issues };
}

/** The value at `path` inside plain data, or undefined. */
export function valueAt(data: unknown, path: Path): unknown {
  let at = data;
  for (const step of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string | number, unknown>)[step];
  }
  return at;
}

function describeIssue(iss: z.core.$ZodRawIssue): string | undefined {
  const key = iss.path?.at(-1);
  const missing = iss.input === undefined && key !== undefined;
  const required = (expected: string) => `"${String(key)}" is required (expected: ${expected})`;
  switch (iss.code) {
    case 'invalid_type': {
      const expected = kindName(iss.expected);
      if (missing) return required(expected);
      return `expected ${expected}, got ${kindOf(iss.input)}`;
    }
    case 'invalid_union': {
      // Every branch refused the value's kind: list the kinds. Otherwise the branch of the right kind says why.
      const firsts = iss.errors.map((branch) => branch[0]).filter((i): i is z.core.$ZodIssue => i !== undefined);
      const kinds = firsts.filter((i) => i.code === 'invalid_type' && i.path.length === 0);
      if (kinds.length === firsts.length && kinds.length > 0) {
        const expected = [...new Set(kinds.map((i) => kindName((i as z.core.$ZodIssueInvalidType).expected)))].join(' or ');
        return missing ? required(expected) : `expected ${expected}, got ${kindOf(iss.input)}`;
      }
      const specific = firsts.find((i) => !(i.code === 'invalid_type' && i.path.length === 0));
      return specific?.message;
    }
    case 'invalid_value':
      if (missing) return required(iss.values.map((v) => JSON.stringify(v)).join(' or '));
      return `expected ${iss.values.length > 1 ? 'one of ' : ''}${iss.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_key':
      return `the name "${String(iss.input)}" is not allowed here (expected: ${iss.issues.map((i) => i.message).join('; ')})`;
    default:
      return undefined;
  }
}

function kindName(expected: string): string {
  switch (expected) {
    case 'string':
      return 'text';
    case 'number':
    case 'int':
      return 'a number';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
    case 'record':
      return 'a map of settings';
    default:
      return expected;
  }
}

function kindOf(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'text';
    case 'number':
      return 'a number';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      return 'a map of settings';
    default:
      return typeof value;
  }
}
