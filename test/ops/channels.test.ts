/**
 * The channels against real servers: email to an SMTP server process (STARTTLS with a certificate the config
 * trusts, AUTH), refused when the certificate is not trusted; webhooks to a real HTTP receiver, signed so that
 * the receiver's check passes for the body as sent and fails for a tampered body, another secret or an old
 * timestamp. No secret in what arrives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotificationsConfig } from '../../src/config/schema.js';
import { registerSecret } from '../../src/core/redact.js';
import { DeliveryError, EmailChannel, signature, verifySignature, WebhookChannel } from '../../src/ops/channels.js';
import type { OpsEvent } from '../../src/ops/events.js';
import { type Receiver, startReceiver } from './receiver.js';
import { decodedBody, header, type SmtpServer, startSmtp } from './smtp.js';

const SMTP_PASSWORD = 'smtp-pass-Zq81xWv3';
const HOOK_SECRET = 'hook-secret-4b7e19c0d2a5f83e';

const quarantined: OpsEvent = {
  id: '7b0c3f7e-1111-4222-8333-944455556666',
  at: '2026-12-07T17:00:00.000Z',
  type: 'connector.quarantined',
  summary: 'hr is quarantined until 2026-12-07T17:15:00.000Z',
  connector: 'hr',
  reason: 'import failed: cannot read data/hr.csv',
  level: 1,
  since: '2026-12-07T16:30:00.000Z',
  until: '2026-12-07T17:15:00.000Z',
};

type Email = NonNullable<NotificationsConfig['email']>;

function email(smtp: SmtpServer, trust = true): Email {
  const tls = trust ? { ca: smtp.caFile, rejectUnauthorized: true } : undefined;
  return {
    smtp: { host: '127.0.0.1', port: smtp.port, secure: false, starttls: true, auth: { user: 'idsync', password: SMTP_PASSWORD }, ...(tls && { tls }) },
    from: 'idsync@example.com',
    to: ['ops@example.com', 'oncall@example.com'],
  };
}

describe('email', () => {
  let smtp: SmtpServer;
  beforeAll(async () => {
    smtp = await startSmtp({ user: 'idsync', password: SMTP_PASSWORD });
    registerSecret(SMTP_PASSWORD); // as loading the config does for a resolved ${env:} reference
  });
  afterAll(async () => smtp.stop());

  it('sends over STARTTLS with AUTH: subject, body, recipients, and no password', async () => {
    const channel = new EmailChannel(email(smtp));
    await channel.send({ ...quarantined, reason: `import failed: the server said "bad password ${SMTP_PASSWORD}"` });
    channel.close();
    const [mail] = await smtp.waitFor(1);
    expect(mail!.secure).toBe(true);
    expect(mail!.user).toBe('idsync');
    expect(smtp.auths).toEqual([{ user: 'idsync', secure: true }]); // AUTH only after STARTTLS
    expect(mail!.from).toBe('idsync@example.com');
    expect(mail!.to).toEqual(['ops@example.com', 'oncall@example.com']);
    expect(header(mail!.raw, 'subject')).toBe('[idsync] hr is quarantined until 2026-12-07T17:15:00.000Z');
    expect(header(mail!.raw, 'x-idsync-event')).toBe('connector.quarantined');
    const body = decodedBody(mail!.raw);
    expect(body).toContain('Connector hr is quarantined (level 1) until 2026-12-07T17:15:00.000Z');
    expect(body).toContain('idsync approve hr --quarantine');
    expect(body).toContain('bad password [redacted]');
    expect(mail!.raw).not.toContain(SMTP_PASSWORD);
    expect(mail!.raw).not.toContain(Buffer.from(SMTP_PASSWORD).toString('base64'));
  });

  it('refuses a server whose certificate it does not trust, as a retryable delivery error', async () => {
    const channel = new EmailChannel(email(smtp, false));
    const before = smtp.messages.length;
    const err = await channel.send(quarantined).catch((e: unknown) => e);
    channel.close();
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).code).toBe('NOTIFY_EMAIL_FAILED');
    expect((err as Error).message).toMatch(/certificate/i);
    expect(smtp.messages.length).toBe(before);
  });

  it('names refused credentials as a permanent failure, without the password', async () => {
    const channel = new EmailChannel({ ...email(smtp), smtp: { ...email(smtp).smtp, auth: { user: 'idsync', password: 'wrong-password-1' } } });
    const err = (await channel.send(quarantined).catch((e: unknown) => e)) as DeliveryError;
    channel.close();
    expect(err.code).toBe('NOTIFY_EMAIL_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).not.toContain('wrong-password-1');
  });
});

describe('email over SMTPS', () => {
  let smtps: SmtpServer;
  beforeAll(async () => {
    smtps = await startSmtp({ user: 'idsync', password: SMTP_PASSWORD, secure: true });
  });
  afterAll(async () => smtps.stop());

  it('sends with TLS from the first byte (secure: true)', async () => {
    const config = email(smtps);
    const channel = new EmailChannel({ ...config, smtp: { ...config.smtp, secure: true } });
    await channel.send(quarantined);
    channel.close();
    const [mail] = await smtps.waitFor(1);
    expect(mail!.secure).toBe(true);
    expect(mail!.user).toBe('idsync');
    expect(header(mail!.raw, 'x-idsync-delivery')).toBe(quarantined.id);
  });
});

describe('email to a server that does not offer STARTTLS', () => {
  let plain: SmtpServer;
  beforeAll(async () => {
    plain = await startSmtp({ user: 'idsync', password: SMTP_PASSWORD, noStarttls: true });
  });
  afterAll(async () => plain.stop());

  it('sends nothing, neither the message nor the password (starttls: true is required, not opportunistic)', async () => {
    const channel = new EmailChannel(email(plain));
    const err = (await channel.send(quarantined).catch((e: unknown) => e)) as DeliveryError;
    channel.close();
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.message).toMatch(/STARTTLS/i);
    await new Promise((r) => setTimeout(r, 200));
    expect(plain.messages).toEqual([]);
    expect(plain.auths).toEqual([]);
  });
});

describe('webhooks', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    registerSecret(HOOK_SECRET);
  });
  afterAll(async () => receiver.close());

  it('POSTs the event as JSON, signed over timestamp and body: the receiver verifies it, a tampered body does not', async () => {
    const channel = new WebhookChannel({ url: `${receiver.url}/hooks/idsync`, secret: HOOK_SECRET, timeout: '10s' });
    await channel.send(quarantined);
    const [req] = await receiver.waitFor(1);
    expect(req!.path).toBe('/hooks/idsync');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['x-idsync-event']).toBe('connector.quarantined');
    expect(req!.headers['x-idsync-delivery']).toBe(quarantined.id);
    const timestamp = req!.headers['x-idsync-timestamp'] as string;
    const sig = req!.headers['x-idsync-signature'] as string;
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);

    const body = JSON.parse(req!.body);
    expect(body).toMatchObject({ id: quarantined.id, type: 'connector.quarantined', connector: 'hr', level: 1, until: quarantined.until, summary: quarantined.summary });
    expect(body.text).toContain('Connector hr is quarantined');
    expect(body.service.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(req!.body).not.toContain(HOOK_SECRET);

    expect(verifySignature(HOOK_SECRET, { body: req!.body, timestamp, signature: sig })).toBe(true);
    const tampered = req!.body.replace('"level":1', '"level":9');
    expect(tampered).not.toBe(req!.body);
    expect(verifySignature(HOOK_SECRET, { body: tampered, timestamp, signature: sig })).toBe(false);
    expect(verifySignature('another-secret-of-16+', { body: req!.body, timestamp, signature: sig })).toBe(false);
    // the timestamp is signed: a replay an hour later fails, and so does a new timestamp with the old signature
    expect(verifySignature(HOOK_SECRET, { body: req!.body, timestamp, signature: sig }, Date.now() + 3_600_000)).toBe(false);
    const now = String(Math.floor(Date.now() / 1000) + 1);
    expect(verifySignature(HOOK_SECRET, { body: req!.body, timestamp: now, signature: sig })).toBe(false);
    expect(verifySignature(HOOK_SECRET, { body: req!.body, timestamp: now, signature: signature(HOOK_SECRET, now, req!.body) })).toBe(true);
  });

  it('tells a retryable answer (5xx, 429) from a refusal (4xx), naming the receiver by its origin only', async () => {
    const channel = new WebhookChannel({ url: `${receiver.url}/hooks/T0KEN-IN-PATH`, secret: HOOK_SECRET, timeout: '10s' });
    receiver.answers.push(503, 400);
    const busy = (await channel.send(quarantined).catch((e: unknown) => e)) as DeliveryError;
    expect(busy.code).toBe('NOTIFY_WEBHOOK_FAILED');
    expect(busy.retryable).toBe(true);
    expect(busy.message).toBe(`webhook ${receiver.url} answered HTTP 503`);
    const refused = (await channel.send(quarantined).catch((e: unknown) => e)) as DeliveryError;
    expect(refused.retryable).toBe(false);

    const closed = new WebhookChannel({ url: 'http://127.0.0.1:1/hooks/T0KEN-IN-PATH', secret: HOOK_SECRET, timeout: '2s' });
    const unreachable = (await closed.send(quarantined).catch((e: unknown) => e)) as DeliveryError;
    expect(unreachable.retryable).toBe(true);
    expect(unreachable.message).toContain('http://127.0.0.1:1');
    expect(unreachable.message).not.toContain('T0KEN');
  });
});
