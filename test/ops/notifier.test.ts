/**
 * Notifications end to end: the sample installation served by startServer with `notifications:` in its
 * idsync.yaml, an SMTP server process and an HTTP receiver. One notification per event, not per cycle: two
 * held cycles send one, a restart does not resend, a quarantine sends one and its recovery one; an agent group
 * losing its last agent sends one and its return one; the error rate sends once until it falls back. A failed
 * delivery is retried and logged without secrets; no secret is in any body.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';
import { loadConfig } from '../../src/config/load.js';
import { type CycleReport, Engine } from '../../src/engine/engine.js';
import { verifySignature } from '../../src/ops/channels.js';
import { Notifier } from '../../src/ops/notifier.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { runCli } from '../helpers/cli.js';
import { type Workspace, workspace } from '../helpers/workspace.js';
import { type Receiver, startReceiver } from './receiver.js';
import { decodedBody, header, type SmtpServer, startSmtp } from './smtp.js';

const SMTP_PASSWORD = 'smtp-pass-Kd92nQx7';
const HOOK_SECRET = 'hook-secret-91c4e6a0b3f27d58';
const ENV = { ...process.env, IDSYNC_TEST_SMTP_PASSWORD: SMTP_PASSWORD, IDSYNC_TEST_HOOK_SECRET: HOOK_SECRET };

let ws: Workspace;
let receiver: Receiver;
let smtp: SmtpServer;
let engine: Engine | undefined;
let server: RunningServer | undefined;
let log: string;

beforeEach(async () => {
  ws = workspace({ people: 20 });
  receiver = await startReceiver();
  smtp = await startSmtp({ user: 'idsync', password: SMTP_PASSWORD, failFirst: 1 });
  log = '';
});
afterEach(async () => {
  await stop();
  await receiver.close();
  await smtp.stop();
  ws.cleanup();
});

function notifications(extra = ''): string {
  return `notifications:
  retries: 2
  errorRate: { errors: 5, within: 1h }
  email:
    smtp:
      host: 127.0.0.1
      port: ${smtp.port}
      auth: { user: idsync, password: "\${env:IDSYNC_TEST_SMTP_PASSWORD}" }
      tls: { ca: ${smtp.caFile} }
    from: idsync@example.com
    to: [ops@example.com]
    events: [run.held, connector.quarantined, connector.recovered]
  webhooks:
    - url: ${receiver.url}/hooks/idsync
      secret: "\${env:IDSYNC_TEST_HOOK_SECRET}"
    - url: http://127.0.0.1:1/hooks/PATH-T0KEN-abc
      secret: "\${env:IDSYNC_TEST_HOOK_SECRET}"
      events: [run.held]
${extra}`;
}

async function start(): Promise<RunningServer> {
  const config = loadConfig(ws.configPath, { env: ENV });
  engine = await Engine.open(config);
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      log += chunk.toString();
      done();
    },
  });
  server = await startServer(config, { engine, port: 0, log: true, logStream, notifier: { retryDelaysMs: [50] } });
  return server;
}

async function stop(): Promise<void> {
  await server?.close();
  await engine?.close();
  server = undefined;
  engine = undefined;
}

/** A cycle, then every delivery it caused, ended. */
async function cycle(): Promise<CycleReport> {
  const report = await engine!.cycle();
  await server!.ops.notifier!.idle();
  return report;
}

/** The events the receiver got, one per delivery (a retried delivery counts once). */
function delivered(): { type: string; body: Record<string, unknown> }[] {
  const seen = new Set<string>();
  return receiver.received
    .filter((r) => r.headers['x-idsync-delivery'] && !seen.has(r.headers['x-idsync-delivery'] as string) && seen.add(r.headers['x-idsync-delivery'] as string))
    .map((r) => ({ type: r.headers['x-idsync-event'] as string, body: JSON.parse(r.body) }));
}

describe('notifications', () => {
  it('notifies each event once: a hold (not again next cycle, nor after a restart), a quarantine, its recovery, an agent group lost and back', async () => {
    ws.writeConfig(SAMPLE_CONFIG + notifications());
    await start();
    expect((await cycle()).status).toBe('ok');
    expect(receiver.received).toEqual([]);

    // a hold: the receiver answers the first attempt with 503, the SMTP server the first message with 451
    receiver.answers.push(503);
    ws.writePeople(ws.people.slice(0, 5));
    expect((await cycle()).status).toBe('held');
    expect(receiver.received.length).toBe(2);
    expect(receiver.received[0]!.headers['x-idsync-delivery']).toBe(receiver.received[1]!.headers['x-idsync-delivery']);
    expect(delivered().map((d) => d.type)).toEqual(['run.held']);
    const held = delivered()[0]!.body;
    expect(held).toMatchObject({ type: 'run.held', holds: [expect.objectContaining({ count: expect.any(Number), threshold: expect.any(String) })] });
    expect(String(held.text)).toContain('idsync approve');
    const signed = receiver.received[1]!;
    expect(verifySignature(HOOK_SECRET, { body: signed.body, timestamp: signed.headers['x-idsync-timestamp'] as string, signature: signed.headers['x-idsync-signature'] as string })).toBe(true);
    expect(smtp.refused()).toBe(1);
    const [mail] = await smtp.waitFor(1);
    expect(mail!.secure).toBe(true);
    expect(header(mail!.raw, 'subject')).toMatch(/^\[idsync\] \S+: \d+ deletions held by the deletion threshold$/);

    expect((await cycle()).status).toBe('held');
    expect(delivered().length).toBe(1);
    await stop();
    await start();
    expect((await cycle()).status).toBe('held');
    expect(delivered().length).toBe(1);
    expect(smtp.messages.length).toBe(1);

    // back to normal: the hold is gone, silently
    ws.writePeople(ws.people);
    expect((await cycle()).status).toBe('ok');
    expect(delivered().length).toBe(1);

    // the feed goes: quarantined at the second failing cycle, then skipped (no further notification)
    rmSync(join(ws.dir, 'data', 'hr.csv'));
    expect((await cycle()).status).toBe('failed');
    expect(delivered().length).toBe(1);
    expect((await cycle()).status).toBe('failed');
    expect((await cycle()).status).toBe('incomplete');
    expect(delivered().map((d) => d.type)).toEqual(['run.held', 'connector.quarantined']);
    expect(delivered()[1]!.body).toMatchObject({ connector: 'hr', level: 1, reason: expect.stringContaining('import failed') });

    // fixed and lifted: one recovery, then nothing
    ws.writePeople(ws.people);
    await engine!.liftQuarantine('hr');
    expect((await cycle()).status).toBe('ok');
    expect((await cycle()).status).toBe('ok');
    expect(delivered().map((d) => d.type)).toEqual(['run.held', 'connector.quarantined', 'connector.recovered']);
    expect(delivered()[2]!.body).toMatchObject({ connector: 'hr', quarantinedSince: delivered()[1]!.body.since });

    // the agent hub's reports: a group that had an agent loses it (once), then gets one back (once)
    const ops = server!.ops;
    ops.agentConnections('site-a', 1);
    ops.agentConnections('site-a', 0);
    ops.agentConnections('site-a', 0);
    ops.agentConnections('never-connected', 0);
    await ops.notifier!.idle();
    ops.agentConnections('site-a', 2);
    await ops.notifier!.idle();
    expect(delivered().map((d) => d.type)).toEqual(['run.held', 'connector.quarantined', 'connector.recovered', 'agent-group.lost', 'agent-group.restored']);
    expect(delivered()[4]!.body).toMatchObject({ group: 'site-a', connected: 2 });

    // email only for the events it names
    const mails = await smtp.waitFor(3);
    expect(mails.map((m) => header(m.raw, 'x-idsync-event'))).toEqual(['run.held', 'connector.quarantined', 'connector.recovered']);
    expect(decodedBody(mails[1]!.raw)).toContain('Connector hr is quarantined (level 1)');

    // the hook that cannot be reached: retried, given up, logged by its origin only
    expect(log).toContain('by webhook http://127.0.0.1:1 failed (attempt 1 of 3)');
    expect(log).toContain('by webhook http://127.0.0.1:1 failed after 3 attempts, given up');
    expect(log).toContain(`sent by webhook ${receiver.url}`);
    expect(log).toContain('sent by email to ops@example.com');

    // a secret too short to resist guessing from a signed request is pointed out (28 characters here)
    expect(log).toContain(`the secret of webhook ${receiver.url} has fewer than 32 characters`);

    // no secret anywhere: bodies, headers, mails, the log
    const everything = [log, ...receiver.received.map((r) => r.body + JSON.stringify(r.headers) + r.path), ...smtp.messages.map((m) => m.raw)].join('\n');
    for (const secret of [SMTP_PASSWORD, HOOK_SECRET, Buffer.from(SMTP_PASSWORD).toString('base64'), 'PATH-T0KEN-abc']) {
      expect(everything).not.toContain(secret);
    }
  }, 120_000);

  it('notifies an error rate once until the errors fall to half of it', async () => {
    ws.writeConfig(SAMPLE_CONFIG + notifications());
    const config = loadConfig(ws.configPath, { env: ENV });
    engine = await Engine.open(config);
    const lines: string[] = [];
    const notifier = new Notifier({
      config: { ...config.notifications!, email: undefined, webhooks: config.notifications!.webhooks.slice(0, 1) },
      store: engine.store,
      connectors: ['hr', 'directory'],
      log: { info: (m) => lines.push(m), warn: (m) => lines.push(m) },
      retryDelaysMs: [50],
    });
    await notifier.start();
    const t0 = Date.parse('2026-12-07T10:00:00Z');
    const report = (errors: number): CycleReport =>
      ({
        runId: 1,
        status: errors > 0 ? 'errors' : 'ok',
        staging: false,
        fullSync: false,
        stats: [{ connector: 'directory', phase: 'export', added: 0, updated: 0, deleted: 0, unchanged: 0, errors, durationMs: 1, status: 'ok' }],
        planned: [],
        holds: [],
        heldChanges: [],
        durationMs: 1,
      }) as CycleReport;
    await notifier.observeCycle(report(3), new Date(t0));
    await notifier.observeCycle(report(3), new Date(t0 + 60_000)); // 6 > 5 within the hour
    await notifier.observeCycle(report(3), new Date(t0 + 120_000)); // still over: nothing new
    await notifier.idle();
    expect(delivered().map((d) => d.body)).toEqual([expect.objectContaining({ type: 'errors.rate', connector: 'directory', errors: 6, threshold: 5, within: '1h' })]);
    await notifier.observeCycle(report(0), new Date(t0 + 2 * 3_600_000)); // the hour passed: back under half
    await notifier.observeCycle(report(6), new Date(t0 + 2 * 3_600_000 + 60_000));
    await notifier.close();
    expect(delivered().map((d) => d.type)).toEqual(['errors.rate', 'errors.rate']);
    expect(lines.filter((l) => l.startsWith('notification errors.rate')).length).toBe(2);
  });

  it('names an unresolved secret of notifications in validate, and serve refuses to start without it (exit 2); other commands run', async () => {
    ws.writeConfig(SAMPLE_CONFIG + notifications());
    const args = ['--config', ws.configPath];
    const env = { IDSYNC_TEST_SMTP_PASSWORD: SMTP_PASSWORD }; // the webhook secret is not set
    const line = SAMPLE_CONFIG.split('\n').length + notifications().split('\n').findIndex((l) => l.includes('IDSYNC_TEST_HOOK_SECRET'));
    const v = await runCli([...args, 'validate', '--offline'], { env });
    expect(v.code).toBe(0);
    expect(v.stderr).toContain(`idsync.yaml:${line}:15: environment variable IDSYNC_TEST_HOOK_SECRET is not set (not needed offline; serve needs it)`);
    expect((await runCli([...args, 'validate'], { env })).code).toBe(2);
    expect((await runCli([...args, 'run', '--once'], { env })).code).toBe(0);
    const serve = await runCli([...args, 'serve', '--port', '0'], { env });
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain('environment variable IDSYNC_TEST_HOOK_SECRET is not set');
  }, 120_000);
});
