/**
 * Overview: every connector with its health, last and next run, counts, errors, hold, quarantine and agent
 * group; a chart of recent runs; the live progress of a running cycle; "run now" for all connectors.
 */
import { useCallback } from 'preact/hooks';
import { allows, api, type Role } from '../api';
import { RunsChart } from '../chart';
import { useAction, useApi } from '../hooks';
import { LiveProgress } from '../progress';
import { Link } from '../router';
import type { Connector, List, RunSummary } from '../types';
import { Badge, countsOf, Empty, ErrorBox, heldCount, Loading, lastRunOf, num, When } from '../ui';

export function OverviewPage(props: { role: Role }) {
  const connectors = useApi<List<Connector>>('/connectors', 15_000);
  const runs = useApi<List<RunSummary>>('/runs?limit=30', 15_000);
  const runNow = useAction(() =>
    api<{ runId?: number | string; queued?: boolean }>('POST', '/actions/run', {}),
  );
  const { reload: reloadConnectors } = connectors;
  const { reload: reloadRuns } = runs;
  const refresh = useCallback(() => {
    reloadConnectors();
    reloadRuns();
  }, [reloadConnectors, reloadRuns]);
  const items = connectors.data?.items ?? [];
  const held = items.filter((c) => heldCount(c) > 0);
  return (
    <>
      <div class="page-head">
        <h1>Overview</h1>
        {allows(props.role, 'operator') && (
          <div class="actions">
            <button type="button" onClick={() => runNow.go().then(refresh)} disabled={runNow.busy}>
              {runNow.busy ? 'Starting…' : 'Run now (all connectors)'}
            </button>
          </div>
        )}
      </div>
      <ErrorBox error={runNow.error} />
      {runNow.result && (
        <p class="alert alert-good" role="status">
          A cycle is on its way{runNow.result.runId !== undefined ? ` (run ${runNow.result.runId})` : ''}: it
          starts as soon as the engine is free; follow it under Live progress.
        </p>
      )}
      {held.length > 0 && (
        <p class="alert alert-warn" role="status">
          {held.length === 1 ? 'One connector holds' : `${held.length} connectors hold`} deletions for review:{' '}
          {held.map((c, i) => (
            <span key={c.name}>
              {i > 0 && ', '}
              <strong>{c.name}</strong>
            </span>
          ))}
          . <Link href="/holds">Review held deletions</Link>
        </p>
      )}
      <section aria-labelledby="connectors-title">
        <h2 id="connectors-title">Connectors</h2>
        <ErrorBox error={connectors.error} />
        <Loading loading={connectors.loading && !connectors.data}>
          {items.length === 0 ? (
            <Empty>No connectors are configured.</Empty>
          ) : (
            <div class="table-wrap">
              <table class="connectors">
                <thead>
                  <tr>
                    <th scope="col">Connector</th>
                    <th scope="col">Health</th>
                    <th scope="col">Last run</th>
                    <th scope="col">Next run</th>
                    <th scope="col" class="num">
                      Objects
                    </th>
                    <th scope="col" class="num">
                      Pending exports
                    </th>
                    <th scope="col" class="num">
                      Errors
                    </th>
                    <th scope="col">Hold</th>
                    <th scope="col">Quarantine</th>
                    <th scope="col">Agent group</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((c) => {
                    const last = lastRunOf(c);
                    const counts = countsOf(c);
                    const holding = heldCount(c);
                    return (
                      <tr key={c.name} data-connector={c.name}>
                        <th scope="row">
                          <Link href={`/connectors/${encodeURIComponent(c.name)}`}>{c.name}</Link>
                          <div class="muted small">{[c.type, c.role].filter(Boolean).join(' · ')}</div>
                        </th>
                        <td>
                          <Badge value={c.health} />
                        </td>
                        <td>
                          <When at={last.at} /> {last.status && <Badge value={last.status} />}
                        </td>
                        <td>
                          <When at={c.nextRun} />
                        </td>
                        <td class="num">{num(counts.objects)}</td>
                        <td class="num">{num(counts.pendingExports)}</td>
                        <td class="num">
                          {counts.errors ? (
                            <Link href={`/connectors/${encodeURIComponent(c.name)}`} class="bad">
                              {num(counts.errors)}
                            </Link>
                          ) : (
                            num(counts.errors ?? 0)
                          )}
                        </td>
                        <td>
                          {holding > 0 ? (
                            <Link href="/holds">
                              <Badge value="held" label={`${num(holding)} held`} />
                            </Link>
                          ) : (
                            <span class="muted">–</span>
                          )}
                        </td>
                        <td>{c.quarantine ? <Badge value="quarantined" /> : <span class="muted">–</span>}</td>
                        <td>
                          {c.agentGroup ? (
                            <>
                              {c.agentGroup}
                              {c.agents && (
                                <div class="small">
                                  <Badge
                                    value={(c.agents.connected ?? 0) > 0 ? 'connected' : 'offline'}
                                    label={`${c.agents.connected ?? 0} of ${c.agents.total ?? '?'} connected`}
                                  />
                                </div>
                              )}
                            </>
                          ) : (
                            <span class="muted">local</span>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </Loading>
      </section>
      <div class="grid-2">
        <section class="card" aria-labelledby="runs-title">
          <h2 id="runs-title">Recent runs</h2>
          <ErrorBox error={runs.error} />
          <Loading loading={runs.loading && !runs.data}>
            <RunsChart runs={runs.data?.items ?? []} />
            <p>
              <Link href="/runs">All runs</Link>
            </p>
          </Loading>
        </section>
        <LiveProgress onRunEnd={refresh} />
      </div>
    </>
  );
}
