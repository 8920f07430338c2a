/**
 * /metrics over real HTTP from a real server: after a cycle of the sample installation (HR CSV → built-in
 * directory) the counts, durations, last success and state gauges are there with their values; HTTP requests
 * are counted by route pattern, never by raw URL; process metrics are there; access is open to this machine
 * only without a token, and needs the bearer token when one is set. Also from `idsync serve` as a user runs it.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { Engine } from '../../src/engine/engine.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { startCli } from '../helpers/cli.js';
import { parseMetrics, type Sample, value } from './prometheus.js';
import { type Workspace, workspace } from '../helpers/workspace.js';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';

let ws: Workspace;
let engine: Engine | undefined;
let server: RunningServer | undefined;

beforeEach(() => {
  ws = workspace({ people: 20 });
});
afterEach(async () => {
  await server?.close();
  await engine?.close();
  server = undefined;
  engine = undefined;
  ws.cleanup();
});

async function start(extra = '', env: NodeJS.ProcessEnv = {}): Promise<RunningServer> {
  ws.writeConfig(SAMPLE_CONFIG + extra);
  const config = loadConfig(ws.configPath, { env: { ...process.env, ...env } });
  engine = await Engine.open(config);
  server = await startServer(config, { engine, port: 0 });
  return server;
}

async function scrape(s: RunningServer, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await fetch(`${s.url}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parseMetrics(await res.text());
}

describe('/metrics', () => {
  it("counts what an apply exports, as a cycle's exports (apply tells the cycle listeners too)", async () => {
    const s = await start();
    const seen: string[] = [];
    engine!.onCycle((r) => {
      seen.push(`${r.status} ${r.stats.map((x) => x.phase).join(',')}`);
    });
    const plan = await engine!.cycle({ mode: 'plan' });
    expect(plan.planned.filter((p) => p.op === 'create').length).toBeGreaterThanOrEqual(20);
    const before = value(await scrape(s), 'idsync_objects_exported_total', { connector: 'directory', change: 'added' }) ?? 0;
    const applied = await engine!.apply();
    const sent = applied.stats.find((x) => x.connector === 'directory' && x.phase === 'export')!;
    expect(sent.added).toBe(plan.planned.filter((p) => p.connector === 'directory' && p.op === 'create').length);
    const m = await scrape(s);
    expect(value(m, 'idsync_objects_exported_total', { connector: 'directory', change: 'added' })).toBe(before + sent.added);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toBe(`${applied.status} export`);
  });

  it('shows a cycle: objects imported and exported, durations, last success, state gauges, requests by route, the process', async () => {
    const s = await start();
    const before = Date.now() / 1000;
    const report = await engine!.cycle();
    expect(report.status).toBe('ok');
    const after = Date.now() / 1000;

    // requests of three kinds: a route with a parameter, one refused by auth, one with no route at all
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
    expect((await fetch(`${s.url}/scim/v2/Users/some-id-1`)).status).toBe(401);
    expect((await fetch(`${s.url}/scim/v2/Users/some-id-2`)).status).toBe(401);
    expect((await fetch(`${s.url}/no/such/path`)).status).toBe(404);

    const m = await scrape(s);
    expect(value(m, 'idsync_cycles_total', { status: 'ok' })).toBe(1);
    expect(value(m, 'idsync_cycle_duration_seconds_count', { status: 'ok' })).toBe(1);
    expect(value(m, 'idsync_objects_imported_total', { connector: 'hr', change: 'added' })).toBe(20);
    expect(value(m, 'idsync_objects_imported_total', { connector: 'hr', change: 'deleted' })).toBe(0);
    const exported = report.stats.find((x) => x.connector === 'directory' && x.phase === 'export')!;
    expect(exported.added).toBeGreaterThanOrEqual(20);
    expect(value(m, 'idsync_objects_exported_total', { connector: 'directory', change: 'added' })).toBe(exported.added);
    expect(value(m, 'idsync_phase_duration_seconds_count', { connector: 'hr', phase: 'import' })).toBe(1);
    expect(value(m, 'idsync_phase_duration_seconds_count', { connector: 'directory', phase: 'export' })).toBe(1);
    const success = value(m, 'idsync_last_success_timestamp_seconds', { connector: 'hr' })!;
    expect(success).toBeGreaterThanOrEqual(Math.floor(before));
    expect(success).toBeLessThanOrEqual(after + 1);
    expect(value(m, 'idsync_last_success_timestamp_seconds', { connector: 'directory' })).toBe(success);
    expect(value(m, 'idsync_pending_exports', { connector: 'directory', state: 'pending' })).toBe(0);
    expect(value(m, 'idsync_pending_exports', { connector: 'directory', state: 'held' })).toBe(0);
    expect(value(m, 'idsync_object_errors', { connector: 'hr' })).toBe(0);
    expect(value(m, 'idsync_held_deletes', { connector: 'directory' })).toBe(0);
    expect(value(m, 'idsync_quarantined', { connector: 'hr' })).toBe(0);
    expect(value(m, 'idsync_failing_cycles', { connector: 'hr' })).toBe(0);

    expect(value(m, 'idsync_http_requests_total', { method: 'GET', route: '/health', status: '200' })).toBe(1);
    expect(value(m, 'idsync_http_requests_total', { method: 'GET', route: '/scim/v2/Users/:id', status: '401' })).toBe(2);
    expect(value(m, 'idsync_http_requests_total', { method: 'GET', route: '(no route)', status: '404' })).toBe(1);
    expect(value(m, 'idsync_http_request_duration_seconds_count', { method: 'GET', route: '/scim/v2/Users/:id' })).toBe(2);
    // the raw URL is never a label
    expect(m.some((x) => Object.values(x.labels).some((v) => v.includes('some-id')))).toBe(false);

    expect(value(m, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(m, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(m.find((x) => x.name === 'idsync_info')?.labels.version).toMatch(/^\d+\.\d+\.\d+/);

    // the scrape itself is counted by the next one
    expect(value(await scrape(s), 'idsync_http_requests_total', { method: 'GET', route: '/metrics', status: '200' })).toBe(1);
  });

  it('knows the last success of each connector from the run history after a restart', async () => {
    await ws.cycle();
    const s = await start();
    const last = (await engine!.store.runs(1))[0]!;
    const m = await scrape(s);
    expect(value(m, 'idsync_last_success_timestamp_seconds', { connector: 'hr' })).toBe(Date.parse(last.finishedAt!) / 1000);
    expect(value(m, 'idsync_cycles_total', { status: 'ok' })).toBeUndefined();
  });

  it('shows a held deletion and a quarantine as gauges', async () => {
    const s = await start();
    expect((await engine!.cycle()).status).toBe('ok');
    ws.writePeople(ws.people.slice(0, 5)); // 15 of 20 leave: far over 10%
    const held = await engine!.cycle();
    expect(held.status).toBe('held');
    const heldCount = held.holds.reduce((n, h) => n + h.count, 0);
    expect(heldCount).toBeGreaterThan(0);
    const h = await scrape(s);
    expect(held.holds.map((x) => value(h, 'idsync_held_deletes', { connector: x.connector })!).reduce((a, b) => a + b, 0)).toBe(heldCount);
    expect(value(h, 'idsync_cycles_total', { status: 'held' })).toBe(1);
    rmSync(join(ws.dir, 'data', 'hr.csv')); // the feed is gone: hr's import fails
    for (let i = 0; i < 2; i++) expect((await engine!.cycle({ connectors: ['hr'] })).status).toBe('failed');
    const m = await scrape(s);
    expect(value(m, 'idsync_quarantined', { connector: 'hr' })).toBe(1);
    expect(value(m, 'idsync_quarantine_level', { connector: 'hr' })).toBe(1);
    expect(value(m, 'idsync_failing_cycles', { connector: 'hr' })).toBe(2);
    expect(value(m, 'idsync_cycles_total', { status: 'held' })).toBe(1);
    expect(value(m, 'idsync_cycles_total', { status: 'failed' })).toBe(2);
  });

  it('answers clients on this machine only without a token, and only the bearer token with one', async () => {
    const open = await start();
    expect((await fetch(`${open.url}/metrics`)).status).toBe(200);
    // a client elsewhere, as a proxy on this host names it (X-Forwarded-For is believed from loopback only)
    const remote = await fetch(`${open.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(remote.status).toBe(403);
    expect(await remote.json()).toMatchObject({ code: 'OPS_METRICS_FORBIDDEN' });
    await server!.close();
    await engine!.close();
    server = undefined;
    engine = undefined;

    const token = 'metrics-token-7f3a9c2e5b1d';
    const locked = await start(`serve:\n  metrics: { token: "\${env:IDSYNC_TEST_METRICS_TOKEN}" }\n`, { IDSYNC_TEST_METRICS_TOKEN: token });
    const none = await fetch(`${locked.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(await none.json()).toMatchObject({ code: 'OPS_METRICS_UNAUTHORIZED' });
    expect((await fetch(`${locked.url}/metrics`, { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(401);
    expect((await fetch(`${locked.url}/metrics`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.7' } })).status).toBe(200);
    const m = await scrape(locked, { authorization: `Bearer ${token}` });
    expect(value(m, 'idsync_http_requests_total', { method: 'GET', route: '/metrics', status: '401' })).toBe(2);
  });

  it('keeps scrapes out of the request log', async () => {
    ws.writeConfig(SAMPLE_CONFIG);
    const config = loadConfig(ws.configPath);
    engine = await Engine.open(config);
    let log = '';
    const logStream = new Writable({
      write(chunk, _encoding, done) {
        log += chunk.toString();
        done();
      },
    });
    server = await startServer(config, { engine, port: 0, log: true, logStream });
    await scrape(server);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    await scrape(server);
    expect(log).toContain('"url":"/health"');
    expect(log).not.toContain('/metrics');
    expect(value(await scrape(server), 'idsync_http_requests_total', { method: 'GET', route: '/metrics', status: '200' })).toBe(2);
  });

  it('is off with serve.metrics.enabled false', async () => {
    const s = await start('serve:\n  metrics: { enabled: false }\n');
    expect((await fetch(`${s.url}/metrics`)).status).toBe(404);
  });

  it('refuses to start when the token reference cannot be resolved, naming it', async () => {
    ws.writeConfig(`${SAMPLE_CONFIG}serve:\n  metrics: { token: "\${env:IDSYNC_TEST_UNSET_TOKEN}" }\n`);
    const config = loadConfig(ws.configPath, { env: {} });
    await expect(startServer(config, { port: 0 })).rejects.toThrow(/IDSYNC_TEST_UNSET_TOKEN is not set/);
  });
});

describe('idsync serve', () => {
  it('serves /metrics with the first cycle counted', async () => {
    ws.writeConfig(SAMPLE_CONFIG.replace('interval: 30m', 'interval: 1h'));
    const { child, done } = startCli(['--config', ws.configPath, 'serve', '--port', '0', '--json']);
    let stderr = '';
    let stdout = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (d) => {
        stderr += d;
      });
      child.stdout!.on('data', (d) => {
        stdout += d;
        // the first cycle's report is a JSON line with a runId
        const m = /SCIM endpoint (http:\/\/\S+?)\/scim\/v2/.exec(stderr);
        if (m && /"runId"/.test(stdout)) resolve(m[1]!);
      });
      child.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
    });
    expect(stderr).toContain(`Metrics at ${url}/metrics (clients on this machine only`);
    try {
      const m = await scrape({ url } as RunningServer);
      expect(value(m, 'idsync_cycles_total', { status: 'ok' })).toBe(1);
      expect(value(m, 'idsync_objects_imported_total', { connector: 'hr', change: 'added' })).toBe(20);
      expect(value(m, 'idsync_last_success_timestamp_seconds', { connector: 'hr' })).toBeGreaterThan(0);
    } finally {
      child.kill('SIGTERM');
    }
    expect((await done).code).toBe(0);
  }, 90_000);
});
