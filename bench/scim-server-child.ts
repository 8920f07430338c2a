/**
 * The SCIM server of bench/scim-server.ts, in its own process so the load generator does not share its event
 * loop: starts `idsync serve`'s HTTP server (no engine, no request log) on an ephemeral port and prints the URL.
 *
 *   node --import tsx bench/scim-server-child.ts CONFIG
 */
import Fastify from 'fastify';
import { loadConfig } from '../src/config/load.js';
import { limitHeapGrowth } from '../src/core/heap.js';
import { startServer } from '../src/server/serve.js';

limitHeapGrowth(); // as bin/idsync.js does

/** `--reference`: a bare fastify answering a user-sized JSON, the ceiling of this machine and load generator. */
async function reference(): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify();
  const body = JSON.stringify({
    schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
    totalResults: 1,
    Resources: [
      {
        id: 'x'.repeat(36),
        userName: 'user1@example.com',
        name: { givenName: 'Given1', familyName: 'Family1' },
        emails: [{ value: 'user1@example.com', type: 'work', primary: true }],
        active: true,
        meta: {
          resourceType: 'User',
          created: new Date().toISOString(),
          lastModified: new Date().toISOString(),
          location: 'http://127.0.0.1/scim/v2/Users/x',
          version: 'W/"1"',
        },
      },
    ],
  });
  app.get('/*', async (_req, reply) => reply.type('application/scim+json').send(body));
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, close: () => app.close() };
}

const server =
  process.argv[2] === '--reference'
    ? await reference()
    : await startServer(loadConfig(process.argv[2]!), { port: 0 });
process.stdout.write(`${server.url}\n`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
