/** The function library, by name (case-insensitive, as in Entra and Connect sync). */
import type { FunctionSpec } from '../spec.js';
import { conversionFunctions } from './conversion.js';
import { dateFunctions } from './dates.js';
import { directoryFunctions } from './directory.js';
import { logicFunctions } from './logic.js';
import { multiValueFunctions } from './multivalue.js';
import { replaceFunctions } from './replace.js';
import { textFunctions } from './text.js';

const ALL: readonly FunctionSpec[] = [
  ...textFunctions,
  ...logicFunctions,
  ...multiValueFunctions,
  ...replaceFunctions,
  ...conversionFunctions,
  ...dateFunctions,
  ...directoryFunctions,
];

const BY_NAME = new Map<string, FunctionSpec>();
for (const spec of ALL) {
  const key = spec.name.toLowerCase();
  if (BY_NAME.has(key)) throw new Error(`function ${spec.name} is defined twice`);
  BY_NAME.set(key, spec);
}

export function findFunction(name: string): FunctionSpec | undefined {
  return BY_NAME.get(name.toLowerCase());
}

export interface FunctionInfo {
  readonly name: string;
  readonly minArgs: number;
  /** null: no upper bound */
  readonly maxArgs: number | null;
}

export function listFunctions(): FunctionInfo[] {
  return [...ALL]
    .map((f) => ({ name: f.name, minArgs: f.minArgs, maxArgs: f.maxArgs }))
    .sort((a, b) => a.name.localeCompare(b.name, 'en'));
}
