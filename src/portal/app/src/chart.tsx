/**
 * Recent runs as an inline SVG bar chart: one bar per run, its height the run's duration, its colour its
 * status; a table of the same runs follows for screen readers and keyboards (the chart is an image).
 */
import type { RunSummary } from './types';
import { dateTime, duration, runMs } from './ui';

export function RunsChart(props: { runs: RunSummary[] }) {
  const runs = [...props.runs]
    .filter((r) => r.startedAt)
    .sort((a, b) => String(a.startedAt).localeCompare(String(b.startedAt)));
  if (runs.length === 0) return <p class="empty">No runs yet.</p>;
  const width = 640;
  const height = 160;
  const pad = { left: 48, right: 8, top: 10, bottom: 24 };
  const max = Math.max(1, ...runs.map((r) => runMs(r) ?? 0));
  const slot = (width - pad.left - pad.right) / runs.length;
  const bar = Math.max(2, Math.min(28, slot * 0.7));
  const y = (ms: number) => pad.top + (height - pad.top - pad.bottom) * (1 - ms / max);
  const summary = `${runs.length} recent runs; the longest took ${duration(max)}; ${runs.filter((r) => isFailure(r.status)).length} failed`;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={summary} preserveAspectRatio="none">
        <line x1={pad.left} x2={width - pad.right} y1={y(0)} y2={y(0)} class="axis" />
        <line x1={pad.left} x2={width - pad.right} y1={y(max)} y2={y(max)} class="grid" />
        <text x={pad.left - 6} y={y(max) + 4} class="tick" text-anchor="end">
          {duration(max)}
        </text>
        <text x={pad.left - 6} y={y(0) + 4} class="tick" text-anchor="end">
          0
        </text>
        {runs.map((r, i) => {
          const ms = runMs(r) ?? 0;
          const x = pad.left + slot * i + (slot - bar) / 2;
          const top = Math.min(y(ms), y(0) - 2);
          return (
            <rect
              key={String(r.id)}
              x={x}
              y={top}
              width={bar}
              height={y(0) - top}
              class={`bar bar-${tone(r.status)}`}
            >
              <title>{`run ${r.id} (${r.kind ?? 'cycle'}) ${r.status ?? ''} at ${dateTime(r.startedAt)}: ${duration(ms)}`}</title>
            </rect>
          );
        })}
        <text x={pad.left} y={height - 6} class="tick">
          {dateTime(runs[0]!.startedAt)}
        </text>
        <text x={width - pad.right} y={height - 6} class="tick" text-anchor="end">
          {dateTime(runs[runs.length - 1]!.startedAt)}
        </text>
      </svg>
      <figcaption>
        Duration of the last {runs.length} runs, oldest first. <span class="legend legend-good">ok</span>{' '}
        <span class="legend legend-warn">held or incomplete</span>{' '}
        <span class="legend legend-bad">failed</span>
      </figcaption>
    </figure>
  );
}

function isFailure(status: string | undefined): boolean {
  return /fail|error/i.test(status ?? '');
}

function tone(status: string | undefined): string {
  if (isFailure(status)) return 'bad';
  if (/ok|success/i.test(status ?? '')) return 'good';
  if (/running/i.test(status ?? '')) return 'run';
  return 'warn';
}
