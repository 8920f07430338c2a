/**
 * The SCIM server of bench/scim-server.ts, in its own process so the load generator does not share its event
 * loop: starts `idsync serve`'s HTTP server (no engine, no request log) on an ephemeral port and prints the URL.
 *
 *   node --import tsx bench/scim-server-child.ts CONFIG
 */
import { loadConfig } from '../src/config/load.js';
import { startServer } from '../src/server/serve.js';

const config = loadConfig(process.argv[2]!);
const server = await startServer(config, { port: 0 });
process.stdout.write(`${server.url}\n`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
