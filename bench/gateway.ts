/**
 * Gateway writes (issue 21, the ECMA-host job): a SCIM client writes to a gateway endpoint of `idsync serve`,
 * whose rules carry each write into OpenLDAP (a throwaway slapd on loopback) before it is answered. Measured:
 *  - single writes one after the other (each waits for its own cycle: the notification debounce, 100 ms as
 *    `idsync serve` runs it, plus the cycle);
 *  - one Bulk request of N user creates (default 1,000), each operation answered with its entry's result;
 *  - N single POSTs sent at once (concurrency 50);
 *  - the same-run reference: N entries added straight to the same slapd over one LDAP connection (ldapts),
 *    the target's own cost.
 * The engine runs in this process beside the server, as `idsync serve` does.
 *
 *   node --import tsx bench/gateway.ts [operations]
 */
import { loadavg } from 'node:os';
import { Client } from 'ldapts';
import { Engine } from '../src/engine/engine.js';
import { startTestServer } from '../test/helpers/scim-server.js';
import { BASE_DN, BASE_LDIF, startSlapd } from '../test/helpers/slapd.js';
import { machine } from './machine.js';

const N = Number(process.argv[2] ?? 1000);
const SINGLES = 20;
const CONCURRENCY = 50;
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

const load = machine();
const slapd = await startSlapd({ ldif: BASE_LDIF });
const server = await startTestServer({
  config: `
schedule: { interval: 1h }
connectors:
  scim: { type: builtin, path: gateway.db }
  corp:
    type: ldap
    flavor: openldap
    urls: [${slapd.url}]
    bindDN: ${slapd.bindDN}
    password: "${slapd.password}"
    baseDN: ${BASE_DN}
    objectTypes:
      user:
        objectClasses: [inetOrgPerson]
        attributes: [uid, cn, sn, givenName, mail]
        rdnAttribute: uid
        container: ou=people,${BASE_DN}
rules:
  - name: scim-in
    connector: scim
    direction: inbound
    objectType: user
    metaverseType: person
    join: [[{ source: userName, metaverse: accountName }]]
    project: true
    flows:
      - { target: accountName, source: userName }
      - { target: mail, source: email }
      - { target: displayName, source: displayName }
      - { target: givenName, source: givenName }
      - { target: sn, source: familyName }
  - name: corp-out
    connector: corp
    direction: outbound
    metaverseType: person
    objectType: user
    join: [[{ target: mail }]]
    deprovision: delete
    flows:
      - { target: uid, source: accountName }
      - { target: cn, source: displayName }
      - { target: sn, source: sn }
      - { target: givenName, source: givenName }
      - { target: mail, source: mail }
serve:
  port: 0
  bodyLimit: 16777216
  scim:
    - { path: /scim/v2, connector: scim, gateway: { timeout: 600s }, bulk: { maxOperations: ${Math.max(N, 1000)}, maxPayloadSize: 16777216 } }
`,
  engine: (config) => Engine.open(config),
});
const stop = new AbortController();
let cycles = 0;
// as `idsync serve` runs it: the default debounce (100 ms)
const serving = server.engine!.serve({ intervalMs: 3_600_000, signal: stop.signal }, () => {
  cycles++;
  void server.server.cycleDone();
});

const person = (prefix: string, i: number) => ({
  schemas: [USER],
  userName: `${prefix}${i}`,
  displayName: `${prefix} ${i}`,
  name: { givenName: prefix, familyName: `Number ${i}` },
  emails: [{ value: `${prefix}${i}@example.test`, type: 'work' }],
});

async function entries(prefix: string): Promise<number> {
  const client = new Client({ url: slapd.url });
  try {
    await client.bind(slapd.bindDN, slapd.password);
    const { searchEntries } = await client.search(`ou=people,${BASE_DN}`, { filter: `(uid=${prefix}*)`, attributes: ['uid'], paged: { pageSize: 1000 } });
    return searchEntries.length;
  } finally {
    await client.unbind();
  }
}

const rows: string[] = [];
const ms = (t: number) => `${(t / 1000).toFixed(2)} s`;
const row = (what: string, time: number, cyclesUsed: number | string, answered: string, inTarget: number, note = '') =>
  rows.push(`| ${what} | ${ms(time)} | ${cyclesUsed} | ${answered} | ${inTarget.toLocaleString('en')} | ${note} |`);

try {
  // warm-up: the first cycle reads the empty target
  await server.request('POST', '/Users', person('warm', 0));

  // single writes, one after the other
  let before = cycles;
  const latencies: number[] = [];
  for (let i = 0; i < SINGLES; i++) {
    const t0 = performance.now();
    const r = await server.request('POST', '/Users', person('single', i));
    latencies.push(performance.now() - t0);
    if (r.status !== 201) throw new Error(`single write ${i}: HTTP ${r.status} ${r.text}`);
  }
  latencies.sort((a, b) => a - b);
  const median = latencies[Math.floor(latencies.length / 2)]!;
  row(`${SINGLES} single POSTs one after the other`, latencies.reduce((a, b) => a + b, 0), cycles - before, `${SINGLES} × 201`, await entries('single'), `median ${median.toFixed(0)} ms per write`);

  // one Bulk request
  before = cycles;
  const bulk = { schemas: [BULK], Operations: Array.from({ length: N }, (_, i) => ({ method: 'POST', path: '/Users', bulkId: `b${i}`, data: person('bulk', i) })) };
  let t0 = performance.now();
  const answer = await server.request('POST', '/Bulk', bulk);
  const bulkMs = performance.now() - t0;
  if (answer.status !== 200) throw new Error(`Bulk: HTTP ${answer.status} ${answer.text.slice(0, 300)}`);
  const statuses = new Map<string, number>();
  for (const op of answer.body.Operations as { status: string }[]) statuses.set(op.status, (statuses.get(op.status) ?? 0) + 1);
  row(`one Bulk request of ${N.toLocaleString('en')} creates`, bulkMs, cycles - before, [...statuses].map(([s, n]) => `${n.toLocaleString('en')} × ${s}`).join(', '), await entries('bulk'));

  // N single POSTs at once
  before = cycles;
  t0 = performance.now();
  const codes = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        const r = await server.request('POST', '/Users', person('many', i));
        codes.set(r.status, (codes.get(r.status) ?? 0) + 1);
      }
    }),
  );
  row(`${N.toLocaleString('en')} single POSTs, ${CONCURRENCY} at a time`, performance.now() - t0, cycles - before, [...codes].map(([s, n]) => `${n.toLocaleString('en')} × ${s}`).join(', '), await entries('many'));

  // reference: the same entries added straight to slapd
  const client = new Client({ url: slapd.url });
  await client.bind(slapd.bindDN, slapd.password);
  t0 = performance.now();
  for (let i = 0; i < N; i++) {
    await client.add(`uid=ref${i},ou=people,${BASE_DN}`, { objectClass: ['inetOrgPerson'], uid: `ref${i}`, cn: `ref ${i}`, sn: `Number ${i}`, givenName: 'ref', mail: `ref${i}@example.test` });
  }
  const refMs = performance.now() - t0;
  await client.unbind();
  row(`reference: ${N.toLocaleString('en')} LDAP adds straight to slapd, one connection`, refMs, '', '', await entries('ref'));
} finally {
  stop.abort();
  await serving;
  await server.close();
  await slapd.stop();
}

console.log(`Machine: ${load} (at the start); load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
console.log('Gateway endpoint of `idsync serve` (engine in the same process, debounce 100 ms) → OpenLDAP (slapd on loopback), SCIM over loopback HTTP with a bearer token.\n');
console.log('| gateway writes | time | engine cycles | answers | entries in slapd | |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log('\nTargets (issue 21): a 1,000-operation Bulk in under 5 s, each operation answered with its own result; single writes about 110 ms.');
