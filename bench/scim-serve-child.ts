/**
 * idsync's own SCIM service (`idsync serve`'s HTTP server over the built-in directory, no engine) in a process
 * of its own, the target of bench/scim.ts. Talks over IPC: sends { url } once listening, answers
 * { ask: 'stats' } with the requests it received and the users and groups it holds, and { ask: 'stop' }.
 *
 *   argv: CONFIG TOKEN   (the token is needed only to count the stored objects, through the service itself)
 */
import { loadConfig } from '../src/config/load.js';
import { limitHeapGrowth } from '../src/core/heap.js';
import { startServer } from '../src/server/serve.js';

limitHeapGrowth(); // as bin/idsync.js does

const [configPath, token] = process.argv.slice(2);
const server = await startServer(loadConfig(configPath!), { port: 0, log: false });
const base = '/scim/v2';

// Counted on the raw HTTP server: every request that reached the service, whatever its route or answer.
// A write is any POST, PUT, PATCH or DELETE but a POST …/.search (a query); a Bulk request counts once.
const counts = { requests: 0, writes: 0, routes: {} as Record<string, number> };
server.app.server.on('request', (req: { method?: string; url?: string }) => {
  counts.requests++;
  const route = routeOf(req.method ?? '?', req.url ?? '');
  counts.routes[route] = (counts.routes[route] ?? 0) + 1;
  if (req.method !== 'GET' && req.method !== 'HEAD' && !/\/\.search(\?|$)/i.test(req.url ?? '')) counts.writes++;
});

/** `GET /Groups/{id}`, `GET /Users?filter`: what kind of request, without ids or values */
function routeOf(method: string, url: string): string {
  const [path = '', query] = url.split('?', 2);
  const parts = path.slice(base.length).split('/').filter(Boolean);
  const shape = parts.map((p, i) => (i === 1 && p !== '.search' ? '{id}' : p)).join('/');
  const params = query ? `?${[...new URLSearchParams(query).keys()].join('&')}` : '';
  return `${method} /${shape}${params}`;
}

/** totalResults of a query, asked in-process (inject does not pass through the raw server: not counted) */
async function total(resource: 'Users' | 'Groups'): Promise<number> {
  const res = await server.app.inject({ method: 'GET', url: `${base}/${resource}?count=0`, headers: { authorization: `Bearer ${token}` } });
  return Number((res.json() as { totalResults?: unknown }).totalResults);
}

process.send!({ url: `${server.url}${base}` });
process.on('message', (m: { ask?: string }) => {
  if (m.ask === 'stats') {
    void Promise.all([total('Users'), total('Groups')]).then(([users, groups]) => {
      const cpu = process.cpuUsage();
      process.send!({ stats: { ...counts, users, groups, cpuMs: (cpu.user + cpu.system) / 1000 } });
    });
  }
  if (m.ask === 'stop') void server.close().then(() => process.exit(0));
});
