/**
 * A progress line on a terminal for long imports and exports, redrawn at most a few times a second:
 * "hr full import: 12,000 of 100,000 (12%), 4,100/s, about 21 s left". The total is what the phase expects
 * (the connector space's size from the previous run for a full import, the pending exports for an export);
 * without one, or once the count passes it, the line shows the count and the rate only.
 * Silent when stderr is not a terminal (CI, pipes, --json), so machine output stays clean.
 */
export interface Progress {
  update(label: string, done: number, total?: number): void;
  done(): void;
  /** a cycle (or apply, provision) starts or finishes: the admin API's live view follows runs */
  run?(event: RunEvent): void;
}

export interface RunEvent {
  runId: number;
  kind: string;
  state: 'started' | 'finished';
  /** finished: the run's status (ok, errors, incomplete, held, failed) */
  status?: string;
  at: string;
}

export function terminalProgress(stream: Pick<NodeJS.WriteStream, 'isTTY' | 'write'> = process.stderr): Progress {
  if (!stream.isTTY) return silentProgress;
  let last = 0;
  let started = Date.now();
  let currentLabel = '';
  return {
    update(label, done, total) {
      const t = Date.now();
      if (label !== currentLabel) {
        currentLabel = label;
        started = t;
      }
      if (t - last < 200) return;
      last = t;
      stream.write(`\r\x1b[2K${progressLine(label, done, total, (t - started) / 1000)}`);
    },
    done() {
      if (last > 0) stream.write('\r\x1b[2K');
      last = 0;
    },
  };
}

/** The line for `done` of `total` after `seconds`: count, percent, rate and the time left at that rate. */
export function progressLine(label: string, done: number, total: number | undefined, seconds: number): string {
  const rate = done / Math.max(seconds, 0.001);
  const parts = [`${label}: ${done.toLocaleString('en')}`];
  const known = total !== undefined && total > 0 && done <= total;
  if (known) parts[0] += ` of ${total.toLocaleString('en')} (${Math.floor((done / total) * 100)}%)`;
  parts.push(`${Math.round(rate).toLocaleString('en')}/s`);
  if (known && done > 0 && seconds >= 1) parts.push(`about ${duration((total - done) / rate)} left`);
  return parts.join(', ');
}

function duration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export const silentProgress: Progress = { update() {}, done() {} };
