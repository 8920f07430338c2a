/** Starts test/ops/smtp-child.ts as a child process with a fresh self-signed certificate, and reads what it gets. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./smtp-child.ts', import.meta.url));

export interface ReceivedMail {
  raw: string;
  from: string | null;
  to: string[];
  secure: boolean;
  user: string | null;
}

export interface SmtpServer {
  port: number;
  /** the server's certificate (self-signed: its own CA) */
  caFile: string;
  messages: ReceivedMail[];
  /** each AUTH attempt: the user and whether the session was under TLS */
  auths: { user: string; secure: boolean }[];
  /** how many messages were answered 451 */
  refused(): number;
  /** waits until `n` messages have arrived (or fails after `ms`) */
  waitFor(n: number, ms?: number): Promise<ReceivedMail[]>;
  stop(): Promise<void>;
}

export async function startSmtp(options: { user: string; password: string; failFirst?: number; secure?: boolean; noStarttls?: boolean }): Promise<SmtpServer> {
  const dir = mkdtempSync(join(tmpdir(), 'idsync-smtp-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, TSX_DISABLE_CACHE: '1', SMTP_KEY: key, SMTP_CERT: cert, SMTP_USER: options.user, SMTP_PASSWORD: options.password, SMTP_FAIL_FIRST: String(options.failFirst ?? 0), SMTP_SECURE: options.secure ? '1' : '0', SMTP_NO_STARTTLS: options.noStarttls ? '1' : '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const messages: ReceivedMail[] = [];
  const auths: { user: string; secure: boolean }[] = [];
  let refused = 0;
  let rest = '';
  let onPort: (port: number) => void = () => {};
  const listening = new Promise<number>((resolve, reject) => {
    onPort = resolve;
    child.once('exit', (code) => reject(new Error(`the SMTP server exited (${code})`)));
  });
  child.stdout!.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const o = JSON.parse(line) as { port?: number; message?: ReceivedMail; refused?: boolean; auth?: { user: string; secure: boolean } };
      if (o.auth) auths.push(o.auth);
      if (o.port !== undefined) onPort(o.port);
      if (o.message) messages.push(o.message);
      if (o.refused) refused++;
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await listening;
  return {
    port,
    caFile: cert,
    messages,
    auths,
    refused: () => refused,
    async waitFor(n, ms = 30_000) {
      const until = Date.now() + ms;
      while (messages.length < n) {
        if (Date.now() > until) throw new Error(`${messages.length} of ${n} messages arrived within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return messages.slice(0, n);
    },
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The text of a message body as written (quoted-printable undone), for asserting on it. */
export function decodedBody(raw: string): string {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  return body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

/** A header's value (unfolded), or undefined. */
export function header(raw: string, name: string): string | undefined {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}
