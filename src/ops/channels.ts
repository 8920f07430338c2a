/**
 * Where notifications go: email (SMTP with nodemailer: TLS from the start or STARTTLS required, AUTH) and
 * webhooks (a JSON POST with undici, signed with HMAC-SHA256 over the timestamp and the body). A channel
 * sends one event once; retries and logging are the notifier's. Nothing a channel sends or throws holds a
 * secret: texts go through redact(), and an error names a webhook by its origin only (its path may be a
 * token, as chat services' webhook URLs are).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createTransport, type Transporter } from 'nodemailer';
import { request } from 'undici';
import { durationMs, type NotificationEvent, type NotificationsConfig } from '../config/schema.js';
import { IdsyncError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { VERSION } from '../core/version.js';
import type { OpsCode } from './errors.js';
import { describeEvent, type OpsEvent } from './events.js';

export interface Channel {
  /** for logs: "email to ops@example.com", "webhook https://hooks.example.com" */
  readonly name: string;
  /** the events it sends; undefined: all */
  readonly events: ReadonlySet<NotificationEvent> | undefined;
  send(event: OpsEvent): Promise<void>;
  close(): void;
}

export class DeliveryError extends IdsyncError {
  constructor(
    code: OpsCode,
    message: string,
    readonly retryable: boolean,
  ) {
    super(code, redact(message));
  }
}

// ---- email ----------------------------------------------------------------------------------------------------

type EmailConfig = NonNullable<NotificationsConfig['email']>;

export class EmailChannel implements Channel {
  readonly name: string;
  readonly events: ReadonlySet<NotificationEvent> | undefined;
  private readonly transport: Transporter;

  constructor(private readonly config: EmailConfig) {
    const { smtp } = config;
    this.name = `email to ${config.to.join(', ')}`;
    this.events = config.events && new Set(config.events);
    this.transport = createTransport({
      host: smtp.host,
      port: smtp.port ?? (smtp.secure ? 465 : 587),
      secure: smtp.secure,
      // STARTTLS is required (not merely used when offered): a server that does not offer it gets nothing
      requireTLS: !smtp.secure && smtp.starttls,
      ...(smtp.auth && { auth: { user: smtp.auth.user, pass: smtp.auth.password } }),
      tls: {
        rejectUnauthorized: smtp.tls?.rejectUnauthorized ?? true,
        ...(smtp.tls?.ca !== undefined && { ca: readFileSync(smtp.tls.ca) }),
        minVersion: 'TLSv1.2',
      },
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 30_000,
      logger: false,
      debug: false,
    });
  }

  async send(event: OpsEvent): Promise<void> {
    try {
      await this.transport.sendMail({
        from: this.config.from,
        to: this.config.to,
        subject: redact(`[idsync] ${event.summary}`),
        text: redact(`${describeEvent(event)}\n\n-- \nidsync ${VERSION} on ${hostname()}, event ${event.type} at ${event.at} (${event.id})\n`),
        headers: { 'X-Idsync-Event': event.type, 'X-Idsync-Delivery': event.id },
      });
    } catch (err) {
      const e = err as Error & { code?: string; responseCode?: number };
      // 5xx answers are permanent (a refused recipient, bad credentials); connection problems and 4xx are not
      const permanent = e.responseCode !== undefined && e.responseCode >= 500;
      throw new DeliveryError('NOTIFY_EMAIL_FAILED', `${e.code ? `${e.code}: ` : ''}${e.message}`, !permanent);
    }
  }

  close(): void {
    this.transport.close();
  }
}

// ---- webhooks -------------------------------------------------------------------------------------------------

type WebhookConfig = NotificationsConfig['webhooks'][number];

/** Headers of a signed webhook request. */
export const SIGNATURE_HEADER = 'x-idsync-signature';
export const TIMESTAMP_HEADER = 'x-idsync-timestamp';

/** "sha256=<hex>": HMAC-SHA256 with the secret over "<timestamp>.<body>" (timestamp: Unix seconds, as sent). */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * What a receiver checks (docs/operations.md shows the same in a few lines): the signature over the timestamp
 * and the body as received, and a timestamp within `toleranceSeconds` of now (a replay of an old request fails).
 */
export function verifySignature(
  secret: string,
  request: { body: string; timestamp: string | undefined; signature: string | undefined },
  now = Date.now(),
  toleranceSeconds = 300,
): boolean {
  if (request.timestamp === undefined || request.signature === undefined) return false;
  if (!/^\d{1,12}$/.test(request.timestamp)) return false;
  if (Math.abs(now / 1000 - Number(request.timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(signature(secret, request.timestamp, request.body));
  const given = Buffer.from(request.signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The JSON a webhook receives: the event's own fields, the text of the email, and who sent it. */
export function webhookBody(event: OpsEvent): string {
  return redact(JSON.stringify({ ...event, text: describeEvent(event), service: { host: hostname(), version: VERSION } }));
}

export class WebhookChannel implements Channel {
  readonly name: string;
  readonly events: ReadonlySet<NotificationEvent> | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly config: WebhookConfig) {
    this.name = `webhook ${new URL(config.url).origin}`;
    this.events = config.events && new Set(config.events);
    this.timeoutMs = durationMs(config.timeout);
  }

  async send(event: OpsEvent, now = Date.now()): Promise<void> {
    const body = webhookBody(event);
    const timestamp = String(Math.floor(now / 1000));
    let status: number;
    try {
      const res = await request(this.config.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': `idsync/${VERSION}`,
          'x-idsync-event': event.type,
          'x-idsync-delivery': event.id,
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signature(this.config.secret, timestamp, body),
        },
        body,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = res.statusCode;
      await res.body.dump();
    } catch (err) {
      const e = err as Error & { code?: string };
      // the message of a connection error may quote the URL: name the origin only
      throw new DeliveryError('NOTIFY_WEBHOOK_FAILED', `${this.name}: ${e.code ?? 'request failed'}`, true);
    }
    if (status >= 200 && status < 300) return;
    // a receiver that refuses the request (a bad signature, a wrong URL) refuses it again; 408, 429 and 5xx pass
    const retryable = status === 408 || status === 429 || status >= 500;
    throw new DeliveryError('NOTIFY_WEBHOOK_FAILED', `${this.name} answered HTTP ${status}`, retryable);
  }

  close(): void {}
}

export function channelsOf(config: NotificationsConfig): Channel[] {
  return [...(config.email ? [new EmailChannel(config.email)] : []), ...config.webhooks.map((w) => new WebhookChannel(w))];
}
