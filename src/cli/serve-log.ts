/**
 * `idsync serve`'s request log (fastify's pino lines) in the form its output needs: JSON lines as pino writes
 * them, or human lines for a terminal ("14:02:07 GET /scim/v2/Users?filter=… 200 3.1 ms"). Either way it goes
 * through the same writer as the cycle reports, so one stream holds one kind of line, whole.
 */
import { Writable } from 'node:stream';

interface PinoLine {
  level?: number;
  time?: number;
  msg?: string;
  reqId?: string;
  req?: { method?: string; url?: string };
  res?: { statusCode?: number };
  responseTime?: number;
  err?: { message?: string };
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export function requestLog(out: (line: string) => void, human: boolean): Writable {
  // fastify logs a request twice, when it comes in (method, URL) and when it is answered (status, time)
  const pending = new Map<string, { method?: string; url?: string }>();
  let rest = '';
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        if (!human) {
          out(line);
          continue;
        }
        let entry: PinoLine;
        try {
          entry = JSON.parse(line) as PinoLine;
        } catch {
          out(line);
          continue;
        }
        const shown = humanLine(entry, pending);
        if (shown !== undefined) out(shown);
      }
      done();
    },
  });
}

function humanLine(e: PinoLine, pending: Map<string, { method?: string; url?: string }>): string | undefined {
  const time = new Date(e.time ?? Date.now()).toISOString().slice(11, 19);
  if (e.msg === 'incoming request' && e.reqId !== undefined) {
    pending.set(e.reqId, e.req ?? {});
    return undefined;
  }
  if (e.msg === 'request completed') {
    const req = (e.reqId !== undefined && pending.get(e.reqId)) || {};
    if (e.reqId !== undefined) pending.delete(e.reqId);
    return `${time} ${req.method ?? '?'} ${req.url ?? '?'} ${e.res?.statusCode ?? '?'} ${(e.responseTime ?? 0).toFixed(1)} ms`;
  }
  const level = LEVELS[e.level ?? 30] ?? 'info';
  return `${time} ${level} ${e.msg ?? ''}${e.err?.message ? `: ${e.err.message}` : ''}`;
}
