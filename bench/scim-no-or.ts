/**
 * Request counts of an initial provisioning into a SCIM server that advertises Bulk but refuses `or` filters
 * (as scimgateway does): the in-test server (test/connectors/scim/server.ts) with Bulk on and a 400 for any
 * filter with `or`; an empty target, then one where a fifth of the users already exist. The connector is fed
 * as the engine feeds it (500 changes a call). Counts, not times: the output is a markdown table.
 *
 *   node --import tsx bench/scim-no-or.ts [users]
 */
import type { ExportChange } from '../src/connectors/contract.js';
import { scimConnectorFactory } from '../src/connectors/scim/index.js';
import { scimSettingsSchema } from '../src/connectors/scim/settings.js';
import { TestScimServer } from '../test/connectors/scim/server.js';

const USERS = Number(process.argv[2] ?? 500);
const attributes = (i: number) => ({ userName: [`user${i}@example.com`], displayName: [`User ${i}`], externalId: [`E${i}`], 'emails[type eq "work"].value': [`user${i}@example.com`] });

async function run(existing: number): Promise<string> {
  const server = new TestScimServer({ bulk: true, fault: (r) => (r.method === 'GET' && /%20or%20/i.test(r.path) ? { kind: 'status', status: 400, detail: 'or is not supported' } : undefined) });
  await server.start();
  try {
    for (let i = 0; i < existing; i++) {
      await fetch(`${server.url}/Users`, { method: 'POST', headers: { 'content-type': 'application/scim+json' }, body: JSON.stringify({ userName: `user${i}@example.com`, externalId: `E${i}` }) });
    }
    server.clearLog();
    const connector = scimConnectorFactory.create('bench', scimSettingsSchema.parse({ url: server.url }), { configDir: '.', stateDir: '.', log: { debug() {}, info() {}, warn() {} } });
    const changes: ExportChange[] = Array.from({ length: USERS }, (_, i) => ({ op: 'create', id: `c${i}`, objectType: 'user', attributes: attributes(i) }));
    let failed = 0;
    for (let i = 0; i < changes.length; i += 500) for await (const r of connector.export!(changes.slice(i, i + 500))) if (!r.ok) failed++;
    await connector.close?.();
    const count = (method: string, test: (p: string) => boolean) => server.log.filter((r) => r.method === method && test(r.path)).length;
    const cells = [
      existing === 0 ? 'empty' : `${existing} of the ${USERS} already there`,
      count('GET', (p) => p.startsWith('/Users')),
      count('GET', (p) => p.includes('%20or%20')),
      count('POST', (p) => p === '/Users'),
      count('POST', (p) => p === '/Bulk'),
      count('PATCH', () => true),
      server.log.length,
      `${failed} failed, ${server.users.size} on the server`,
    ];
    return `| ${cells.join(' | ')} |`;
  } finally {
    await server.stop();
  }
}

console.log(`${USERS} user creates, Bulk advertised, \`or\` refused (request counts; they do not depend on the machine)\n`);
console.log('| target | GET /Users | of which refused `or` | POST /Users | POST /Bulk | PATCH | requests | result |');
console.log('|---|---|---|---|---|---|---|---|');
console.log(await run(0));
console.log(await run(Math.floor(USERS / 5)));
