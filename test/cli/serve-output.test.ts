/** `idsync serve`'s stdout holds one kind of line: human lines on a terminal, JSON lines otherwise or with --json. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { requestLog } from '../../src/cli/serve-log.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Serves until a request has been answered and logged, then stops it as SIGTERM would; stdout's lines. */
async function serve(args: string[], outIsTerminal: boolean): Promise<string[]> {
  dir = mkdtempSync(join(tmpdir(), 'idsync-serve-out-'));
  const config = join(dir, 'idsync.yaml');
  writeFileSync(config, 'schedule: { interval: 1h }\nconnectors:\n  directory: { type: builtin }\n');
  const out: string[] = [];
  const err: string[] = [];
  const running = main(['serve', '--port', '0', '--config', config, ...args], { out: (t) => out.push(t), err: (t) => err.push(t), outIsTerminal });
  for (let i = 0; i < 200 && out.length === 0; i++) await sleep(100); // the first cycle's report
  const url = /endpoint (\S+)/.exec(err.join('\n'))?.[1];
  expect(url, err.join('\n')).toBeDefined();
  expect((await fetch(`${url}/Users`)).status).toBe(401);
  for (let i = 0; i < 50 && !out.some((l) => l.includes('401')); i++) await sleep(100);
  process.emit('SIGTERM', 'SIGTERM');
  expect(await running).toBe(0);
  return out.flatMap((l) => l.split('\n'));
}

describe('idsync serve output', () => {
  it('not a terminal: JSON lines only, the request log and the cycle reports alike', async () => {
    const lines = await serve([], false);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.some((p) => p.runId !== undefined && p.status === 'ok')).toBe(true); // a cycle report
    expect(parsed.some((p) => p.msg === 'request completed' && p.res?.statusCode === 401)).toBe(true);
  });

  it('--json on a terminal: JSON lines too', async () => {
    const lines = await serve(['--json'], true);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
  });

  it('a terminal: human lines only, a request as time, method, path, status and duration', async () => {
    const lines = await serve([], true);
    expect(lines.some((l) => l.startsWith('{'))).toBe(false);
    expect(lines.some((l) => /^Cycle \d+/.test(l))).toBe(true);
    expect(lines).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d GET \/scim\/v2\/Users 401 \d+\.\d ms$/));
  });

  it('--quiet: no request log', async () => {
    const lines = await serve(['--quiet'], true);
    expect(lines.some((l) => l.includes(' 401 '))).toBe(false);
  });
});

describe('requestLog', () => {
  it('passes JSON lines through whole, however they arrive in chunks', () => {
    const out: string[] = [];
    const stream = requestLog((l) => out.push(l), false);
    stream.write('{"msg":"a"}\n{"ms');
    stream.write('g":"b"}\n');
    expect(out).toEqual(['{"msg":"a"}', '{"msg":"b"}']);
  });

  it('makes a human line of each answered request and of other messages', () => {
    const out: string[] = [];
    const stream = requestLog((l) => out.push(l), true);
    const time = Date.UTC(2026, 0, 2, 3, 4, 5);
    stream.write(`${JSON.stringify({ level: 30, time, reqId: 'req-1', req: { method: 'GET', url: '/scim/v2/Users' }, msg: 'incoming request' })}\n`);
    stream.write(`${JSON.stringify({ level: 30, time, reqId: 'req-1', res: { statusCode: 200 }, responseTime: 3.14, msg: 'request completed' })}\n`);
    stream.write(`${JSON.stringify({ level: 40, time, msg: 'hashing stored passwords stopped' })}\n`);
    expect(out).toEqual(['03:04:05 GET /scim/v2/Users 200 3.1 ms', '03:04:05 warn hashing stored passwords stopped']);
  });
});
