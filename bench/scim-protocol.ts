/**
 * The SCIM protocol core on one core, without HTTP or storage: what a filtered read, a PATCH and a list
 * response cost in the library, against 100,000 users in memory.
 *
 *   node --import tsx bench/scim-protocol.ts
 */
import {
  applyPatch,
  compileFilter,
  DEFAULT_SCHEMAS,
  ENTERPRISE_USER_SCHEMA,
  indexHint,
  parseFilter,
  project,
  sortResources,
} from '../src/scim/index.js';
import { machine } from './machine.js';

const USERS = 100_000;
const SECONDS_PER_CASE = 1;
const schema = DEFAULT_SCHEMAS.resource('User');

function makeUsers(): Record<string, unknown>[] {
  const departments = ['Sales', 'Engineering', 'Finance', 'Support'];
  return Array.from({ length: USERS }, (_, i) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE_USER_SCHEMA],
    id: `id-${i}`,
    externalId: `ext-${i}`,
    userName: `user${i}@example.com`,
    name: { givenName: `Given${i}`, familyName: `Family${i % 997}` },
    displayName: `Given${i} Family${i % 997}`,
    title: i % 3 === 0 ? 'Engineer' : undefined,
    active: i % 10 !== 0,
    emails: [
      { value: `user${i}@example.com`, type: 'work', primary: true },
      { value: `u${i}@home.example.org`, type: 'home' },
    ],
    [ENTERPRISE_USER_SCHEMA]: { employeeNumber: String(100000 + i), department: departments[i % 4] },
    meta: {
      resourceType: 'User',
      created: '2024-01-01T00:00:00Z',
      lastModified: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
    },
  }));
}

/** Operations per second of `run`, after a warm-up. */
function rate(run: (i: number) => unknown): number {
  let sink = 0;
  for (let i = 0; i < 2000; i++) if (run(i) !== undefined) sink++;
  let count = 0;
  const started = process.hrtime.bigint();
  const budget = BigInt(SECONDS_PER_CASE * 1e9);
  while (process.hrtime.bigint() - started < budget) {
    for (let k = 0; k < 100; k++) if (run(count++) !== undefined) sink++;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (sink < 0) console.log(sink);
  return count / seconds;
}

/** Milliseconds for one pass of `run` (median of 5). */
function timeOnce(run: () => unknown): number {
  const times: number[] = [];
  for (let k = 0; k < 5; k++) {
    const started = process.hrtime.bigint();
    run();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return times.sort((a, b) => a - b)[2]!;
}

const users = makeUsers();
const rows: [string, string][] = [];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

// the indexed read path: parse the query, find the candidate by index, evaluate, project
rows.push([
  'filtered read, per request: parse `userName eq "…"` + index hint + match + project',
  `${fmt(
    rate((i) => {
      const filter = parseFilter(`userName eq "user${i % USERS}@example.com"`);
      const hint = indexHint(filter, ['userName', 'externalId', 'id']);
      const candidate = users[i % USERS]!;
      return hint && compileFilter(filter, schema)(candidate) ? project(candidate, {}, schema) : undefined;
    }),
  )} /s`,
]);
rows.push([
  'parseFilter of an RFC 7644 complex filter',
  `${fmt(rate(() => parseFilter('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")')))} /s`,
]);

const scans: [string, string][] = [
  ['userName eq', 'userName eq "user99999@example.com"'],
  ['value filter', 'emails[type eq "work" and value co "user4242@"]'],
  ['dateTime gt', 'meta.lastModified gt "2024-02-01T00:00:00Z"'],
  [
    'extension and not',
    `${ENTERPRISE_USER_SCHEMA}:department eq "Sales" and not (active eq false) and title pr`,
  ],
];
for (const [name, text] of scans) {
  const predicate = compileFilter(parseFilter(text), schema);
  let hits = 0;
  const ms = timeOnce(() => {
    hits = 0;
    for (const u of users) if (predicate(u)) hits++;
  });
  rows.push([`full scan of ${fmt(USERS)} users, ${name} (${fmt(hits)} match)`, `${ms.toFixed(1)} ms`]);
}

rows.push([
  'applyPatch, Entra replace (3 ops incl. value filter and URN key)',
  `${fmt(
    rate((i) =>
      applyPatch(
        users[i % USERS]!,
        [
          { op: 'Replace', path: 'emails[type eq "work"].value', value: `new${i}@example.com` },
          { op: 'Replace', path: 'name.familyName', value: 'X' },
          { op: 'replace', value: { [`${ENTERPRISE_USER_SCHEMA}:employeeNumber`]: String(i) } },
        ],
        schema,
      ),
    ),
  )} /s`,
]);
rows.push(['project, default attributes', `${fmt(rate((i) => project(users[i % USERS]!, {}, schema)))} /s`]);
rows.push([
  'project, attributes=userName,emails.value',
  `${fmt(rate((i) => project(users[i % USERS]!, { attributes: 'userName,emails.value' }, schema)))} /s`,
]);
rows.push([
  `sortResources of ${fmt(USERS)} users by name.familyName`,
  `${timeOnce(() => sortResources(users, 'name.familyName', 'ascending', schema)).toFixed(0)} ms`,
]);

console.log('| case | figure |\n|---|---|');
for (const [name, figure] of rows) console.log(`| ${name} | ${figure} |`);
console.log(`\n${machine()}`);
