/**
 * `idsync admin` and `idsync token create --role` as a user runs them: a generated password printed once, or
 * one read from stdin; accounts listed without passwords; the last admin kept; an API token that the admin
 * API of `idsync serve` accepts with its role, and serve telling a newcomer how to make the first admin.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';

let dir: string;
let args: string[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-cli-admin-'));
  writeFileSync(join(dir, 'idsync.yaml'), 'schedule: { interval: 1h }\nconnectors:\n  directory: { type: builtin }\n');
  args = ['--config', join(dir, 'idsync.yaml')];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('idsync admin', () => {
  it('creates accounts (generated or stdin password), lists them without passwords, keeps the last admin', async () => {
    const created = await runCli([...args, 'admin', 'create', 'ann', '--role', 'admin']);
    expect(created.code).toBe(0);
    const password = created.stdout.trim();
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(created.stderr).toContain('shown only this once');
    const piped = await runCli([...args, 'admin', 'create', 'bob', '--role', 'reader', '--password-stdin'], { input: 'a long enough password\n' });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe('');
    const weak = await runCli([...args, 'admin', 'create', 'cy', '--role', 'reader', '--password-stdin'], { input: 'short\n' });
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain('at least 12 characters');
    expect((await runCli([...args, 'admin', 'create', 'ann', '--role', 'boss'])).code).toBe(1);

    const listed = await runCli([...args, 'admin', 'list', '--json']);
    expect(JSON.parse(listed.stdout).accounts).toEqual([
      { name: 'ann', role: 'admin', created: expect.any(String) },
      { name: 'bob', role: 'reader', created: expect.any(String) },
    ]);
    expect(listed.stdout).not.toContain(password);

    const last = await runCli([...args, 'admin', 'delete', 'ann']);
    expect(last.code).toBe(1);
    expect(last.stderr).toContain('last admin');
    expect((await runCli([...args, 'admin', 'delete', 'bob'])).code).toBe(0);
    const reset = await runCli([...args, 'admin', 'password', 'ann']);
    expect(reset.code).toBe(0);
    expect(reset.stdout.trim()).not.toBe(password);
  }, 180_000);

  it('serve names the admin API and how to make the first admin; an API token made with --role works there', async () => {
    const { child, done } = startCli([...args, 'serve', '--port', '0', '--quiet']);
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (d) => {
        stderr += d;
        const m = /Admin API (http:\/\/\S+)/.exec(stderr);
        if (m && stderr.includes('No admin account yet')) resolve(m[1]!);
      });
      child.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
    });
    try {
      expect(stderr).toContain('idsync admin create NAME --role admin');
      const made = await runCli([...args, 'token', 'create', 'nightly', '--role', 'reader']);
      expect(made.code).toBe(0);
      const token = made.stdout.trim();
      expect(token).toMatch(/^idsync_api_/);
      const res = await fetch(`${url}/connectors`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const write = await fetch(`${url}/accounts`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"name":"x","role":"admin"}' });
      expect(write.status).toBe(403);
      // the API token is no SCIM token
      expect((await fetch(`${url.replace('/api/v1', '')}/scim/v2/Users`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
      const listed = JSON.parse((await runCli([...args, 'token', 'list', '--json'])).stdout);
      expect(listed).toEqual({ tokens: [], apiTokens: [{ name: 'nightly', role: 'reader', created: expect.any(String), lastUsed: expect.any(String) }] });
      expect((await runCli([...args, 'token', 'create', 'nightly'])).code).toBe(1); // one name space
      expect((await runCli([...args, 'token', 'revoke', 'nightly'])).code).toBe(0);
    } finally {
      child.kill('SIGTERM');
    }
    expect((await done).code).toBe(0);
  }, 120_000);
});
