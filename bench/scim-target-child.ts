// The in-test SCIM server (the target of bench/scim.ts) in a process of its own, for bench/scim.ts: prints nothing, talks over IPC.
//   argv: bulk|nobulk
import { TestScimServer } from '../test/connectors/scim/server.js';

const server = new TestScimServer({ bulk: process.argv[2] === 'bulk', secondPrecision: false });
server.keepLog = false;
const url = await server.start();
process.send!({ url });
process.on('message', (m: { ask?: string }) => {
  if (m.ask === 'stats') {
    const cpu = process.cpuUsage();
    process.send!({ stats: { ...server.counts, users: server.users.size, groups: server.groups.size, cpuMs: (cpu.user + cpu.system) / 1000 } });
  }
  if (m.ask === 'stop') void server.stop().then(() => process.exit(0));
});
