/**
 * Expression evaluation rate on one core, for typical attribute flows, against a hand-written JavaScript
 * function doing the same Join in the same run (the ratio shows what compilation costs).
 *
 *   node --import tsx bench/expressions.ts
 */
import os from 'node:os';
import type { Value } from '../src/core/values.js';
import { compileExpression, compileScope, type FlowInput } from '../src/rules/index.js';

const OBJECTS = 1000;
const SECONDS_PER_CASE = 1;

function makeInputs(): FlowInput[] {
  const inputs: FlowInput[] = [];
  const states = ['NSW', 'QLD', 'SA', 'VIC', 'WA'];
  for (let i = 0; i < OBJECTS; i++) {
    const attrs = new Map<string, Value[]>([
      ['givenname', [`Given${i}`]],
      ['sn', [`Surname${i % 97}`]],
      ['mail', [`user${i}@contoso.com`]],
      ['telephonenumber', [`+91 99988${String(i).padStart(5, '0')}`]],
      ['state', [states[i % states.length]!]],
      ['country', [i % 3 === 0 ? 'USA' : 'NL']],
      ['department', [i % 2 === 0 ? 'Sales' : 'Engineering']],
      ['useraccountcontrol', [i % 10 === 0 ? 514 : 512]],
    ]);
    inputs.push({ get: (name) => attrs.get(name.toLowerCase()) ?? [] });
  }
  return inputs;
}

type Evaluate = (input: FlowInput) => unknown;

/** Evaluations per second over the input pool, after a warm-up. */
function measure(evaluate: Evaluate, inputs: FlowInput[]): number {
  let sink = 0;
  for (let i = 0; i < 200_000; i++) if (evaluate(inputs[i % OBJECTS]!) !== undefined) sink++;
  let count = 0;
  const started = process.hrtime.bigint();
  const budget = BigInt(SECONDS_PER_CASE * 1e9);
  for (;;) {
    for (let i = 0; i < OBJECTS; i++) if (evaluate(inputs[i]!) !== undefined) sink++;
    count += OBJECTS;
    if (process.hrtime.bigint() - started > budget) break;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (sink < 0) console.log(sink);
  return count / seconds;
}

function flow(source: string): Evaluate {
  const compiled = compileExpression(source);
  return (input) => compiled.evaluate(input);
}

/** The reference: Join(" ", [givenName], [sn]) written by hand for single-valued attributes. */
function handWrittenJoin(input: FlowInput): Value[] {
  const given = input.get('givenName');
  const sn = input.get('sn');
  const a = given.length > 0 ? String(given[0]) : '';
  const b = sn.length > 0 ? String(sn[0]) : '';
  if (a === '') return b === '' ? [] : [b];
  return b === '' ? [a] : [`${a} ${b}`];
}

function main(): void {
  const cpu = os.cpus()[0];
  console.log(
    `machine: ${cpu?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}`,
  );
  console.log(`one core, ${OBJECTS} distinct objects, ${SECONDS_PER_CASE} s per case\n`);
  const inputs = makeInputs();
  const direct = compileExpression('[givenName]');
  const join = compileExpression('Join(" ", [givenName], [sn])');
  const cases: [string, Evaluate][] = [
    ['reference: hand-written Join', handWrittenJoin],
    ['[givenName]', (input) => direct.evaluate(input)],
    ['Join(" ", [givenName], [sn])', (input) => join.evaluate(input)],
    [
      'direct + Join (two flows per object)',
      (input) => {
        direct.evaluate(input);
        return join.evaluate(input);
      },
    ],
    ['Replace([mail], "@contoso.com", , , "", , )', flow('Replace([mail], "@contoso.com", , , "", , )')],
    [
      'Replace regex with a named group',
      flow(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a .NET substitution, not a template
        'Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", , "${phoneNumber}", , )',
      ),
    ],
    [
      'Switch([state], ...)',
      flow(
        'Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney", "QLD", "Australia/Brisbane", "SA", "Australia/Adelaide")',
      ),
    ],
    [
      'nested IIF',
      flow(
        'IIF([country]="USA",IIF([department]="Sales","US sales","US other"),IIF([department]="Sales","sales","other"))',
      ),
    ],
    [
      'ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".", …)))))',
      flow(
        'ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".", [givenName], [sn]))), "contoso.com"))',
      ),
    ],
  ];
  const scope = compileScope([
    [
      { attribute: 'department', operator: 'EQUALS', value: 'Sales' },
      { attribute: 'userAccountControl', operator: '!&', value: 2 },
    ],
    [{ attribute: 'country', operator: 'IS IN', value: ['USA', 'CA'] }],
  ]);
  cases.push([
    'scope: (department = Sales AND uac !& 2) OR country IS IN [USA, CA]',
    (input) => scope.matches(input),
  ]);

  let reference = 0;
  for (const [name, evaluate] of cases) {
    const rate = measure(evaluate, inputs);
    if (reference === 0) reference = rate;
    const ratio = name.startsWith('reference') ? '' : `  (${(rate / reference).toFixed(2)} × reference)`;
    console.log(`${name.padEnd(72)} ${(rate / 1e6).toFixed(2).padStart(7)} M/s${ratio}`);
  }
}

main();
