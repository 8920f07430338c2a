/**
 * A SCIM target that echoes the credentials idsync sends in its error bodies (seen in the wild: "request from
 * Authorization: Basic c3Zj…"). Over real HTTP through the CLI: neither the Authorization header's value, nor
 * the base64 of user:password, nor the password itself may reach state.db, `status --json` or `log`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scimDetail } from '../../../src/connectors/scim/http.js';
import { registerSecret } from '../../../src/core/redact.js';
import { runCli } from '../../helpers/cli.js';
import { type Workspace, workspace } from '../../helpers/workspace.js';
import { TestScimServer } from './server.js';

let ws: Workspace | undefined;
let server: TestScimServer | undefined;
afterEach(async () => {
  ws?.cleanup();
  await server?.stop();
});

function config(url: string, auth: string): string {
  return `
connectors:
  hr:
    type: csv
    path: data/hr.csv
    objectType: person
    anchor: employeeId
  cloud:
    type: scim
    url: ${url}
    auth: ${auth}
    timeout: 2
rules:
  - name: hr-people
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    join: [[{ source: employeeId, metaverse: employeeId }]]
    project: true
    flows:
      - { target: employeeId, source: employeeId }
      - { target: email, source: email }
  - name: cloud-users
    connector: cloud
    direction: outbound
    metaverseType: person
    objectType: user
    join: [[{ target: userName }]]
    flows:
      - { target: userName, source: email }
      - { target: externalId, source: employeeId }
`;
}

/** What the state folder holds, every file of it (state.db and its WAL), as text. */
function stateBytes(dir: string): string {
  return ['state.db', 'state.db-wal']
    .map((f) => join(dir, '.idsync', f))
    .filter(existsSync)
    .map((f) => readFileSync(f).toString('latin1'))
    .join('\n');
}

describe('credentials echoed by a SCIM target', () => {
  it.each([
    ['basic, the password written in the config', 'svc-account', 'B4sic-Secret-Pw!', false],
    ['basic, the password from the environment', 'svc-account', 'B4sic-Env-Secret', true],
  ])('%s: neither the header, its base64 nor the password is kept or shown', async (_name, user, password, fromEnv) => {
    const header = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    server = new TestScimServer({
      token: header,
      // every create is refused with the request's credentials in the detail, as a careless server writes it
      fault: (r) =>
        r.method === 'POST'
          ? { kind: 'status', status: 400, detail: `invalid request (Authorization: ${r.authorization}; user ${user}:${password})` }
          : undefined,
    });
    await server.start();
    ws = workspace({ people: 3, groups: 0 });
    const env = { IDSYNC_TEST_BASIC_PASSWORD: password };
    // a config reference, written as the config file holds it (not a template of this file)
    const secret = fromEnv ? `"${'$'}{env:IDSYNC_TEST_BASIC_PASSWORD}"` : JSON.stringify(password);
    ws.writeConfig(config(server.url, `{ type: basic, username: ${user}, password: ${secret} }`));
    const args = ['--config', ws.configPath];
    const run = await runCli(['run', '--once', ...args], { env });
    // the exports failed as the target said, and that was seen by the engine
    expect(run.code, run.stderr).toBe(3);
    expect(server.log.filter((r) => r.method === 'POST' && r.status === 400).length).toBeGreaterThan(0);
    const status = await runCli(['status', '--json', ...args], { env });
    const log = await runCli(['log', ...args], { env });
    expect(log.stdout).toContain('invalid request');
    const base64 = header.slice('Basic '.length);
    for (const [where, text] of [
      ['state.db', stateBytes(ws.dir)],
      ['status --json', status.stdout + status.stderr],
      ['log', log.stdout + log.stderr],
      ['run', run.stdout + run.stderr],
    ] as const) {
      expect(text, `${where} holds the base64 of user:password`).not.toContain(base64);
      expect(text, `${where} holds the password`).not.toContain(password);
    }
    expect(stateBytes(ws.dir)).toContain('[redacted]');
  }, 300_000); // three CLI processes; on a loaded machine each takes seconds to start
});

describe('scimDetail', () => {
  it('redacts a secret before cutting a long detail, so no part of it is left', () => {
    registerSecret('Cut-In-Half-Secret-0123456789');
    const detail = scimDetail({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '400',
      detail: `${'x'.repeat(290)}Cut-In-Half-Secret-0123456789 and more`,
    });
    expect(detail).not.toContain('Cut-In');
    expect(detail).toContain('[red');
  });
});
