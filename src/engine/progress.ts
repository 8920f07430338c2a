/**
 * A progress line on a terminal for long imports and exports, redrawn at most a few times a second.
 * Silent when stderr is not a terminal (CI, pipes, --json), so machine output stays clean.
 */
export interface Progress {
  update(label: string, done: number, total?: number): void;
  done(): void;
}

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
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
      const rate = done / Math.max((t - started) / 1000, 0.001);
      const of = total ? ` of ${total.toLocaleString('en')}` : '';
      stream.write(`\r\x1b[2K${label}: ${done.toLocaleString('en')}${of} (${Math.round(rate).toLocaleString('en')}/s)`);
    },
    done() {
      if (last > 0) stream.write('\r\x1b[2K');
      last = 0;
    },
  };
}

export const silentProgress: Progress = { update() {}, done() {} };
