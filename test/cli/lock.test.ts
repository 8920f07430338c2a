/**
 * One process runs cycles on a state at a time (real processes): a `run --once` beside a running `serve`
 * is refused with a message naming the holder, while read-only commands and small administrative writes go
 * on; a holder killed with SIGKILL does not block the state.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliResult, startCli } from '../helpers/cli.js';

let dir: string;
let args: string[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-cli-lock-'));
  writeFileSync(join(dir, 'idsync.yaml'), 'schedule: { interval: 1h }\nconnectors:\n  directory: { type: builtin }\n');
  args = ['--config', join(dir, 'idsync.yaml')];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

// the compiled CLI (`npm run build`): a SIGKILL cannot break a compile cache, and processes start faster
const runCli = (cli: string[]) => startCli(cli, { compiled: true }).done;

/** Starts `idsync serve` (JSON lines on stdout) and resolves once its first cycle is reported. */
async function serve() {
  const started = startCli([...args, 'serve', '--port', '0', '--quiet', '--json'], { compiled: true });
  let stdout = '';
  const cycleReported = () =>
    stdout.split('\n').some((line) => {
      try {
        return JSON.parse(line).runId !== undefined;
      } catch {
        return false;
      }
    });
  await new Promise<void>((resolve, reject) => {
    started.child.stdout!.on('data', (d) => {
      stdout += d;
      if (cycleReported()) resolve();
    });
    started.child.once('exit', () => reject(new Error('serve exited before its first cycle')));
  });
  return started;
}

describe('the cycle lease', () => {
  it('refuses run --once beside serve, naming the holder; status, approve and token go on beside it', async () => {
    const { child, done } = await serve();
    let stopped: CliResult;
    try {
      const refused = await runCli([...args, 'run', '--once']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`in use by idsync serve (pid ${child.pid} on host ${hostname()}, since `);
      expect(refused.stdout).toBe('');

      expect((await runCli([...args, 'status'])).code).toBe(0);
      expect((await runCli([...args, 'approve', 'directory'])).code).toBe(0);
      expect((await runCli([...args, 'token', 'create', 'beside'])).code).toBe(0);
    } finally {
      child.kill('SIGTERM');
      stopped = await done;
    }
    expect(stopped.code).toBe(0);
    // stopped, it no longer holds the state
    expect((await runCli([...args, 'run', '--once'])).code).toBe(0);
  }, 120_000);

  it('a holder killed with SIGKILL does not block the state', async () => {
    const { child, done } = await serve();
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    const next = await runCli([...args, 'run', '--once']);
    expect(next.stderr).toBe('');
    expect(next.code).toBe(0);
  }, 120_000);
});
