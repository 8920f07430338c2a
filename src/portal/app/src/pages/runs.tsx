/** Runs: the history with per-phase counts and durations, one run's phases, and the live progress. */
import { query } from '../api';
import { useApi } from '../hooks';
import { LiveProgress } from '../progress';
import { Link } from '../router';
import type { List, RunSummary } from '../types';
import { Badge, dateTime, duration, Empty, ErrorBox, Loading, phaseCounts, runMs, When } from '../ui';

export function RunsPage(props: { open?: string | undefined }) {
  const runs = useApi<List<RunSummary>>(`/runs${query({ limit: 50 })}`, 15_000);
  const one = useApi<RunSummary>(props.open ? `/runs/${encodeURIComponent(props.open)}` : undefined);
  return (
    <>
      <h1>Runs</h1>
      <LiveProgress onRunEnd={runs.reload} />
      {props.open && (
        <section class="card" aria-labelledby="run-title">
          <h2 id="run-title">Run {props.open}</h2>
          <ErrorBox error={one.error} />
          <Loading loading={one.loading && !one.data}>{one.data && <Phases run={one.data} />}</Loading>
          <p>
            <Link href={`/log?runId=${encodeURIComponent(props.open)}`}>Provisioning log of this run</Link>
          </p>
        </section>
      )}
      <section aria-labelledby="history-title">
        <h2 id="history-title">History</h2>
        <ErrorBox error={runs.error} />
        <Loading loading={runs.loading && !runs.data}>
          <RunsTable runs={runs.data?.items ?? []} />
        </Loading>
      </section>
    </>
  );
}

export function RunsTable(props: { runs: RunSummary[]; connector?: string }) {
  if (props.runs.length === 0) return <Empty>No runs yet.</Empty>;
  return (
    <div class="table-wrap">
      <table class="runs">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Kind</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
            <th scope="col">Status</th>
            <th scope="col">Phases</th>
          </tr>
        </thead>
        <tbody>
          {props.runs.map((r) => (
            <tr key={String(r.id)}>
              <th scope="row">
                <Link href={`/runs/${encodeURIComponent(String(r.id))}`}>{r.id}</Link>
              </th>
              <td>{r.kind ?? '–'}</td>
              <td>
                <When at={r.startedAt} />
              </td>
              <td>{r.finishedAt === null ? 'running' : duration(runMs(r))}</td>
              <td>
                <Badge value={r.finishedAt === null && !r.status ? 'running' : r.status} />
              </td>
              <td class="small">
                {(r.phases ?? [])
                  .filter((p) => !props.connector || p.connector === props.connector)
                  .map((p) => `${p.connector ?? ''} ${p.phase ?? ''} ${countsText(phaseCounts(p))}`.trim())
                  .join('; ') || '–'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Phases(props: { run: RunSummary }) {
  const r = props.run;
  return (
    <>
      <p>
        {r.kind ?? 'cycle'} started {dateTime(r.startedAt)},{' '}
        {r.finishedAt ? `took ${duration(runMs(r))}` : 'running'}: <Badge value={r.status} />
      </p>
      <div class="table-wrap">
        <table>
          <caption>Phases</caption>
          <thead>
            <tr>
              <th scope="col">Connector</th>
              <th scope="col">Phase</th>
              <th scope="col">Counts</th>
              <th scope="col">Duration</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {(r.phases ?? []).map((p, i) => (
              <tr key={i}>
                <td>{p.connector}</td>
                <td>
                  {p.phase}
                  {p.mode && <span class="muted"> ({p.mode})</span>}
                </td>
                <td>{countsText(phaseCounts(p)) || '–'}</td>
                <td>{duration(p.ms ?? p.durationMs)}</td>
                <td>
                  <Badge value={p.status ?? 'ok'} />
                  {p.detail && <div class="small">{p.detail}</div>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function countsText(c: Record<string, number>): string {
  return Object.entries(c)
    .filter(([, v]) => v)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
}
