/** The machine a benchmark ran on, printed with every figure: these machines are shared and noisy. */
import { cpus, freemem, loadavg, totalmem } from 'node:os';

export function machine(): string {
  const cpu = cpus();
  return [
    `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}`,
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB memory (${(freemem() / 2 ** 30).toFixed(1)} free)`,
    `Node ${process.version}`,
    `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  ].join(', ');
}
