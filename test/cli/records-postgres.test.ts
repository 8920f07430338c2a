/**
 * `idsync serve` and the CLI as separate processes on one PostgreSQL state: SCIM tokens, admin accounts and
 * API tokens live in the database (nothing in tokens.db, agents.db, accounts.db), so what one process writes
 * the other reads at once. (Two serve nodes on one state wait for per-connector leases: today the second
 * refuses to start while the first holds the cycle lease.)
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { createDatabase, type TestDatabase } from '../helpers/postgres.js';

let dir: string;
let db: TestDatabase;
let args: string[];
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-cli-records-'));
  db = await createDatabase('cli_records');
  writeFileSync(join(dir, 'idsync.yaml'), `schedule: { interval: 1h }\nstate:\n  url: ${db.url}\nconnectors:\n  directory: { type: builtin }\n`);
  args = ['--config', join(dir, 'idsync.yaml')];
});
afterEach(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(): Promise<{ api: string; scim: string; stop(): Promise<number | null> }> {
  const { child, done } = startCli([...args, 'serve', '--port', '0', '--quiet']);
  let stderr = '';
  const api = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = /Admin API (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
  });
  return {
    api,
    scim: `${api.replace('/api/v1', '')}/scim/v2`,
    stop: async () => {
      child.kill('SIGTERM');
      return (await done).code;
    },
  };
}

describe('tokens and accounts in PostgreSQL', () => {
  it('what the CLI writes the service reads at once, and the other way round; nothing is written to SQLite', async () => {
    const admin = await runCli([...args, 'token', 'create', 'ops', '--role', 'admin']);
    expect(admin.code, admin.stderr).toBe(0);
    const apiToken = admin.stdout.trim();
    const node = await serve();
    try {
      const auth = { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' };
      // a SCIM token made by another process works on the service at once
      const made = await runCli([...args, 'token', 'create', 'entra']);
      expect(made.code, made.stderr).toBe(0);
      const scimToken = made.stdout.trim();
      expect((await fetch(`${node.scim}/Users`, { headers: { authorization: `Bearer ${scimToken}` } })).status).toBe(200);
      // an account made through the service's API is listed by the CLI; one made by the CLI signs in there
      const account = await fetch(`${node.api}/accounts`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'Dana', role: 'reader', password: 'a long enough password' }) });
      expect(account.status).toBe(201);
      const listed = await runCli([...args, 'admin', 'list', '--json']);
      expect(JSON.parse(listed.stdout).accounts).toEqual([{ name: 'Dana', role: 'reader', created: expect.any(String) }]);
      const piped = await runCli([...args, 'admin', 'create', 'erin', '--role', 'admin', '--password-stdin'], { input: 'another long password\n' });
      expect(piped.code, piped.stderr).toBe(0);
      const login = await fetch(`${node.api}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ERIN', password: 'another long password' }) });
      expect(login.status).toBe(200);
      // the service's audit log, in the database
      const audit = await db.exec('SELECT action FROM audit ORDER BY id');
      expect(audit.map((r) => r.action)).toEqual(['accounts.create', 'session.create']);
      // revoked by the CLI: refused by the service (within its 2-second verification cache)
      expect((await runCli([...args, 'token', 'revoke', 'entra'])).code).toBe(0);
      await new Promise((r) => setTimeout(r, 2100));
      expect((await fetch(`${node.scim}/Users`, { headers: { authorization: `Bearer ${scimToken}` } })).status).toBe(401);
    } finally {
      expect(await node.stop()).toBe(0);
    }
    for (const file of ['tokens.db', 'agents.db', 'accounts.db', 'state.db']) expect(existsSync(join(dir, '.idsync', file)), file).toBe(false);
  }, 240_000);
});
