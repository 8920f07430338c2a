/**
 * One connector: its state, "run now" (delta or full), its hold and quarantine with their actions, its
 * recent runs and the objects in error, each with "retry".
 */
import { useState } from 'preact/hooks';
import { allows, api, enc, query, type Role } from '../api';
import { useAction, useApi } from '../hooks';
import { Link } from '../router';
import type { ConnectorDetail, List, ObjectErrorRow, RunSummary } from '../types';
import {
  Badge,
  countsOf,
  Empty,
  ErrorBox,
  heldCount,
  holdsOf,
  Loading,
  lastRunOf,
  num,
  objectErrorsOf,
  When,
} from '../ui';
import { RunsTable } from './runs';

export function ConnectorPage(props: { name: string; role: Role }) {
  const { name, role } = props;
  const c = useApi<ConnectorDetail>(`/connectors/${enc(name)}`, 15_000);
  const runsFallback = useApi<List<RunSummary>>(
    c.data && !c.data.runs ? `/runs${query({ connector: name, limit: 20 })}` : undefined,
  );
  const [full, setFull] = useState(false);
  const run = useAction(() =>
    api<{ runId?: number | string; queued?: boolean }>('POST', '/actions/run', { connector: name, full }),
  );
  const lift = useAction(() => api('POST', `/connectors/${enc(name)}/quarantine/lift`, {}));
  const operator = allows(role, 'operator');
  const d = c.data;
  const last = d ? lastRunOf(d) : {};
  return (
    <>
      <p class="crumbs">
        <Link href="/">Overview</Link> / connector
      </p>
      <div class="page-head">
        <h1>{name}</h1>
        {operator && (
          <div class="actions">
            <label class="inline">
              <input
                type="checkbox"
                checked={full}
                onChange={(e) => setFull((e.target as HTMLInputElement).checked)}
              />{' '}
              full import and sync
            </label>
            <button type="button" onClick={() => run.go().then(c.reload)} disabled={run.busy}>
              {run.busy ? 'Starting…' : 'Run now'}
            </button>
          </div>
        )}
      </div>
      <ErrorBox error={run.error} />
      {run.result && (
        <p class="alert alert-good" role="status">
          A {full ? 'full ' : ''}run of {name} is on its way
          {run.result.runId !== undefined ? ` (run ${run.result.runId})` : ''}: it starts as soon as the
          engine is free.
        </p>
      )}
      <ErrorBox error={c.error} />
      <Loading loading={c.loading && !d}>
        {d && (
          <>
            <dl class="facts">
              <div>
                <dt>Type</dt>
                <dd>{d.type ?? '–'}</dd>
              </div>
              <div>
                <dt>Role</dt>
                <dd>{d.role ?? '–'}</dd>
              </div>
              <div>
                <dt>Health</dt>
                <dd>
                  <Badge value={d.health} />
                </dd>
              </div>
              <div>
                <dt>Last run</dt>
                <dd>
                  <When at={last.at} /> {last.status && <Badge value={last.status} />}
                </dd>
              </div>
              <div>
                <dt>Next run</dt>
                <dd>
                  <When at={d.nextRun} />
                </dd>
              </div>
              <div>
                <dt>Objects</dt>
                <dd>{num(countsOf(d).objects)}</dd>
              </div>
              <div>
                <dt>Pending exports</dt>
                <dd>{num(countsOf(d).pendingExports)}</dd>
              </div>
              <div>
                <dt>Errors</dt>
                <dd>{num(countsOf(d).errors)}</dd>
              </div>
              {heldCount(d) > 0 && (
                <div>
                  <dt>Held</dt>
                  <dd>{num(heldCount(d))}</dd>
                </div>
              )}
              <div>
                <dt>Agent group</dt>
                <dd>{d.agentGroup ?? 'local'}</dd>
              </div>
            </dl>
            {holdsOf(d).map((h) => (
              <div class="alert alert-warn" role="status" key={h.phase ?? 'hold'}>
                <strong>Held:</strong> {h.message ?? `${num(h.count)} deletions wait for approval`}{' '}
                <Link href="/holds">Review and approve</Link>
              </div>
            ))}
            {d.quarantine && (
              <div class="alert alert-bad" role="status">
                <strong>Quarantined</strong>
                {d.quarantine.since && (
                  <>
                    {' '}
                    since <When at={d.quarantine.since} />
                  </>
                )}
                : {d.quarantine.message ?? d.quarantine.reason ?? 'repeated failures'}{' '}
                {operator && (
                  <button type="button" onClick={() => lift.go().then(c.reload)} disabled={lift.busy}>
                    Lift quarantine
                  </button>
                )}
                <ErrorBox error={lift.error} />
              </div>
            )}
            <section aria-labelledby="errors" id="errors-section">
              <h2 id="errors">Errors</h2>
              <Errors connector={name} errors={objectErrorsOf(d)} operator={operator} onRetried={c.reload} />
            </section>
            <section aria-labelledby="runs-title">
              <h2 id="runs-title">Recent runs</h2>
              <RunsTable runs={d.runs ?? runsFallback.data?.items ?? []} connector={name} />
              <p>
                <Link href={`/log?connector=${enc(name)}`}>Provisioning log of {name}</Link>
              </p>
            </section>
          </>
        )}
      </Loading>
    </>
  );
}

function Errors(props: {
  connector: string;
  errors: ObjectErrorRow[];
  operator: boolean;
  onRetried: () => void;
}) {
  if (props.errors.length === 0) return <Empty>No objects in error.</Empty>;
  return (
    <div class="table-wrap">
      <table class="errors">
        <thead>
          <tr>
            <th scope="col">Object</th>
            <th scope="col">Phase</th>
            <th scope="col">Error</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last</th>
            {props.operator && <th scope="col">Action</th>}
          </tr>
        </thead>
        <tbody>
          {props.errors.map((e) => (
            <ErrorRow key={`${e.object ?? e.key}-${e.code}-${e.attribute ?? ''}`} e={e} {...props} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ErrorRow(props: { e: ObjectErrorRow; connector: string; operator: boolean; onRetried: () => void }) {
  const { e } = props;
  const id = e.objectId ?? e.object ?? e.key;
  const retry = useAction(() =>
    api('POST', `/objects/${enc(String(id))}/retry`, { connector: props.connector }),
  );
  return (
    <tr>
      <th scope="row">
        {id ? (
          <Link href={`/objects/${enc(String(id))}`}>{e.name ?? e.objectName ?? id}</Link>
        ) : (
          (e.name ?? e.objectName ?? '–')
        )}
        {e.attribute && <div class="small muted">attribute {e.attribute}</div>}
      </th>
      <td>{e.phase ?? '–'}</td>
      <td>
        {e.message} <code class="code">{e.code}</code>
      </td>
      <td class="num">{num(e.attempts)}</td>
      <td>
        <When at={e.lastAt} />
      </td>
      {props.operator && (
        <td>
          {retry.result !== undefined ? (
            <span role="status">Retried</span>
          ) : (
            <button
              type="button"
              disabled={!id || retry.busy}
              onClick={() => retry.go().then(props.onRetried)}
            >
              Retry
            </button>
          )}
          <ErrorBox error={retry.error} />
        </td>
      )}
    </tr>
  );
}
