/**
 * `idsync token` and `idsync serve` as a user runs them: a token printed once, a server that answers SCIM
 * with it, a clean stop on SIGTERM, and serve-block mistakes reported with file:line:column.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-cli-serve-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const config = (text: string) => {
  writeFileSync(join(dir, 'idsync.yaml'), text);
  return ['--config', join(dir, 'idsync.yaml')];
};

describe('idsync token and serve', () => {
  it('creates, lists and revokes tokens, and serves SCIM with one until SIGTERM', async () => {
    const args = config('schedule: { interval: 1h }\nconnectors:\n  directory: { type: builtin }\n');
    const created = await runCli([...args, 'token', 'create', 'entra']);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^idsync_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain('shown only this once');
    expect((await runCli([...args, 'token', 'create', 'entra'])).code).not.toBe(0);
    const listed = await runCli([...args, 'token', 'list', '--json']);
    expect(JSON.parse(listed.stdout).tokens).toEqual([
      { name: 'entra', endpoints: [], created: expect.any(String) },
    ]);
    expect(listed.stdout).not.toContain(token);

    const { child, done } = startCli([...args, 'serve', '--port', '0']);
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (d) => {
        stderr += d;
        const m = /SCIM endpoint (http:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
    });
    try {
      const res = await fetch(`${url}/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName: 'cli@example.com',
        }),
      });
      expect(res.status).toBe(201);
      expect((await fetch(`${url}/Users`)).status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('/scim/v2/Users');
    expect(result.stdout + result.stderr).not.toContain(token);
    expect(result.stderr).not.toContain('No SCIM token yet'); // there is one

    expect((await runCli([...args, 'token', 'revoke', 'entra'])).code).toBe(0);
    expect((await runCli([...args, 'token', 'revoke', 'entra'])).code).toBe(1);
  }, 60_000);

  it('tells a newcomer on a fresh state where the SCIM endpoint is and how to make its first token', async () => {
    const args = config('schedule: { interval: 1h }\nconnectors:\n  directory: { type: builtin }\n');
    const { child, done } = startCli([...args, 'serve', '--port', '0', '--quiet']);
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d) => {
        stderr += d;
        if (stderr.includes('No SCIM token yet')) resolve();
      });
      child.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
    });
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
    expect(stderr).toMatch(/SCIM endpoint http:\/\/127\.0\.0\.1:\d+\/scim\/v2 \(connector directory\)/);
    expect(stderr).toContain('`idsync token create NAME`');
  }, 60_000);

  it('reports serve-block mistakes with file:line:column', async () => {
    const args = config(`connectors:
  hr: { type: csv, path: hr.csv, objectType: person, anchor: id }
  directory: { type: builtin }
serve:
  port: 70000
  auth: { tokens: false }
  scim:
    - { path: /scim/v2, connector: hr }
    - { path: /scim/v2, connector: directory, gateway: true, extra: 1 }
`);
    const r = await runCli([...args, 'validate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/idsync\.yaml:5:\d+: .*65535/);
    expect(r.stderr).toMatch(/idsync\.yaml:9:\d+: unknown setting "extra"/);
    const fixed = config(`connectors:
  hr: { type: csv, path: hr.csv, objectType: person, anchor: id }
  directory: { type: builtin }
serve:
  auth: { tokens: false }
  scim:
    - { path: /scim/v2, connector: hr }
    - { path: /scim/v2, connector: directory, gateway: true }
`);
    const again = await runCli([...fixed, 'validate']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(
      /idsync\.yaml:7:\d+: a SCIM endpoint serves a connector of type builtin; "hr" is not one/,
    );
    expect(again.stderr).toMatch(/idsync\.yaml:5:\d+: with tokens off and no jwt/);
    expect(again.stderr).toMatch(/idsync\.yaml:8:\d+: two SCIM endpoints at \/scim\/v2/);
    expect(again.stderr).toMatch(/idsync\.yaml:8:\d+: gateway mode carries writes through the rules/);
  }, 30_000);
});
