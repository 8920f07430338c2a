/**
 * Live progress of a running cycle from the API's event stream (GET /api/v1/progress, Server-Sent Events):
 * one line per connector and phase with the count, the total when known, the rate and the time left.
 */
import { useEffect, useState } from 'preact/hooks';
import { API } from './api';
import type { ProgressEvent } from './types';
import { duration, num } from './ui';

interface RunEvent {
  runId?: number | string;
  kind?: string;
  /** started or finished (the engine's run events) */
  state?: string;
  /** finished: ok, errors, incomplete, held, failed */
  status?: string;
}

function isRunning(r: RunEvent | undefined): boolean {
  return (
    r !== undefined &&
    (r.state === 'started' || (r.state === undefined && (r.status === 'running' || r.status === 'started')))
  );
}

export function LiveProgress(props: { onRunEnd?: () => void }) {
  const [lines, setLines] = useState<Map<string, ProgressEvent>>(new Map());
  const [run, setRun] = useState<RunEvent | undefined>(undefined);
  const [state, setState] = useState<'connecting' | 'open' | 'closed'>('connecting');
  const { onRunEnd } = props;
  useEffect(() => {
    const source = new EventSource(`${API}/progress`, { withCredentials: true });
    source.onopen = () => setState('open');
    source.onerror = () => setState(source.readyState === EventSource.CLOSED ? 'closed' : 'connecting');
    source.addEventListener('progress', (e) => {
      const p = parse<ProgressEvent>((e as MessageEvent).data);
      if (!p) return;
      setRun((r) =>
        r?.runId === p.runId && isRunning(r) ? r : { runId: p.runId ?? undefined, state: 'started' },
      );
      setLines((old) => {
        const next = new Map(old);
        // a new run starts a new list
        for (const [k, v] of next) if (v.runId !== p.runId) next.delete(k);
        next.set(`${p.connector ?? ''}\u0000${p.phase}`, p);
        return next;
      });
    });
    source.addEventListener('run', (e) => {
      const r = parse<RunEvent>((e as MessageEvent).data);
      if (!r) return;
      setRun(r);
      if (!isRunning(r)) onRunEnd?.();
    });
    return () => source.close();
  }, [onRunEnd]);
  const running = isRunning(run);
  const shown = running ? 'running' : (run?.status ?? 'finished');
  return (
    <section class="card live" aria-labelledby="live-title">
      <h2 id="live-title">
        Live progress{' '}
        <span class={`dot dot-${state}`} title={`event stream ${state}`}>
          <span class="sr-only">event stream {state}</span>
        </span>
      </h2>
      <div aria-live="polite" aria-atomic="false">
        {run === undefined ? (
          <p class="muted">No cycle is running. Progress appears here while one runs.</p>
        ) : (
          <p>
            Run {run.runId ?? ''}
            {run.kind ? ` (${run.kind})` : ''}:{' '}
            <strong data-run-status={shown} data-run-id={run.runId ?? ''}>
              {shown}
            </strong>
          </p>
        )}
        {lines.size > 0 && (
          <ul class="progress-list">
            {[...lines.values()].map((p) => (
              <ProgressLine key={`${p.connector}-${p.phase}`} p={p} finished={!running} />
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}

function ProgressLine(props: { p: ProgressEvent; finished: boolean }) {
  const { p } = props;
  const known = typeof p.total === 'number' && p.total > 0;
  const pct = known ? Math.min(100, Math.floor((p.count / p.total!) * 100)) : undefined;
  return (
    <li class="progress-line" data-phase={p.phase}>
      <span class="progress-label">
        <strong>{p.connector ?? 'all'}</strong> {p.phase}
      </span>
      {known ? (
        <progress
          max={p.total!}
          value={Math.min(p.count, p.total!)}
          aria-label={`${p.connector ?? ''} ${p.phase}`}
        >
          {pct}%
        </progress>
      ) : props.finished ? (
        <span />
      ) : (
        <progress aria-label={`${p.connector ?? ''} ${p.phase}`} />
      )}
      <span class="progress-figures">
        {num(p.count)}
        {known && ` of ${num(p.total)} (${pct}%)`}
        {typeof p.rate === 'number' && `, ${num(Math.round(p.rate))}/s`}
        {typeof p.etaSeconds === 'number' && `, about ${duration(p.etaSeconds * 1000)} left`}
      </span>
    </li>
  );
}

function parse<T>(data: unknown): T | undefined {
  try {
    return JSON.parse(String(data)) as T;
  } catch {
    return undefined;
  }
}
