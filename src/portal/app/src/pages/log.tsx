/**
 * Provisioning logs, laid out as the Entra admin center's: a search by the person's name and filters on top,
 * one row per entry (date, identity, action, connector, status), and the entry's detail beside it with its
 * steps, troubleshooting and modified properties (old → new per attribute). Filters live in the URL.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, enc, query } from '../api';
import { useApi } from '../hooks';
import { Link, navigate, useLocation } from '../router';
import type { Connector, List, LogEntry } from '../types';
import { Badge, Changes, dateTime, Empty, ErrorBox, Loading } from '../ui';

const ACTIONS = [
  '',
  'create',
  'update',
  'delete',
  'disable',
  'join',
  'project',
  'provision',
  'deprovision',
  'rename',
];
const STATUSES = ['', 'success', 'error', 'skipped', 'held', 'planned'];
const RANGES: [string, string][] = [
  ['', 'any time'],
  ['1h', 'last hour'],
  ['24h', 'last 24 hours'],
  ['7d', 'last 7 days'],
  ['30d', 'last 30 days'],
];
const FILTERS = ['object', 'connector', 'action', 'status', 'range', 'runId'] as const;

function sinceOf(range: string | null): string | undefined {
  const m = /^(\d+)([hd])$/.exec(range ?? '');
  if (!m) return undefined;
  return new Date(Date.now() - Number(m[1]) * (m[2] === 'h' ? 3_600_000 : 86_400_000)).toISOString();
}

export function LogPage(props: { open?: string | undefined }) {
  const { params } = useLocation();
  const f = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? ''])) as Record<
    (typeof FILTERS)[number],
    string
  >;
  const [draft, setDraft] = useState(f);
  const search = params.toString();
  useEffect(() => setDraft(f), [search]);
  const path = `/log${query({
    object: f.object,
    connector: f.connector,
    action: f.action,
    status: f.status,
    runId: f.runId,
    since: sinceOf(f.range),
    limit: 50,
  })}`;
  const log = useApi<List<LogEntry>>(path);
  const [more, setMore] = useState<{ items: LogEntry[]; next?: string | undefined }>({ items: [] });
  useEffect(() => setMore({ items: [] }), [path]);
  const connectors = useApi<List<Connector>>('/connectors');
  const items = [...(log.data?.items ?? []), ...more.items];
  const next = more.next ?? (more.items.length === 0 ? log.data?.next : undefined);

  const apply = (e: Event) => {
    e.preventDefault();
    navigate(`/log${query(draft)}`);
  };
  const loadMore = async () => {
    if (!next) return;
    const page = await api<List<LogEntry>>('GET', `${path}&cursor=${enc(next)}`);
    setMore((m) => ({ items: [...m.items, ...page.items], next: page.next }));
  };
  const set = (k: string) => (e: Event) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value });

  return (
    <>
      <h1>Provisioning logs</h1>
      <search aria-label="Filter the provisioning log">
        <form class="filters" onSubmit={apply}>
          <div class="field grow">
            <label for="f-object">Identity (name, user name, anchor)</label>
            <input
              id="f-object"
              type="search"
              value={draft.object}
              onInput={set('object')}
              placeholder="e.g. Ada Lovelace"
            />
          </div>
          <div class="field">
            <label for="f-connector">Connector</label>
            <select id="f-connector" value={draft.connector} onChange={set('connector')}>
              <option value="">all</option>
              {(connectors.data?.items ?? []).map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="f-action">Action</label>
            <select id="f-action" value={draft.action} onChange={set('action')}>
              {ACTIONS.map((a) => (
                <option key={a} value={a}>
                  {a || 'all'}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="f-status">Status</label>
            <select id="f-status" value={draft.status} onChange={set('status')}>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s || 'all'}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="f-range">Date</label>
            <select id="f-range" value={draft.range} onChange={set('range')}>
              {RANGES.map(([v, l]) => (
                <option key={v} value={v}>
                  {l}
                </option>
              ))}
            </select>
          </div>
          <div class="field buttons">
            <button type="submit">Search</button>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                navigate('/log');
              }}
            >
              Reset
            </button>
          </div>
        </form>
      </search>
      {f.runId && (
        <p class="muted">
          Entries of run {f.runId}. <Link href="/log">All runs</Link>
        </p>
      )}
      <div class={props.open ? 'split' : ''}>
        <section aria-labelledby="entries-title">
          <h2 id="entries-title" class="sr-only">
            Entries
          </h2>
          <ErrorBox error={log.error} />
          <Loading loading={log.loading && !log.data}>
            {items.length === 0 ? (
              <Empty>No entries match{f.object ? ` "${f.object}"` : ''}.</Empty>
            ) : (
              <div class="table-wrap">
                <table class="log">
                  <thead>
                    <tr>
                      <th scope="col">Date</th>
                      <th scope="col">Identity</th>
                      <th scope="col">Action</th>
                      <th scope="col">Connector</th>
                      <th scope="col">Status</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((e) => {
                      const selected = props.open === String(e.id);
                      return (
                        <tr key={String(e.id)} class={selected ? 'selected' : ''}>
                          <td>{dateTime(e.at)}</td>
                          <th scope="row">
                            <Link
                              href={`/log/${enc(String(e.id))}${search ? `?${search}` : ''}`}
                              aria-current={selected ? 'true' : undefined}
                            >
                              {identity(e)}
                            </Link>
                          </th>
                          <td>{e.action}</td>
                          <td>
                            {e.connector}
                            {e.phase && <span class="muted small"> {e.phase}</span>}
                          </td>
                          <td>
                            <Badge value={e.status} />
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
            {next && (
              <button type="button" class="secondary" onClick={loadMore}>
                Load more
              </button>
            )}
          </Loading>
        </section>
        {props.open && <EntryDetail id={props.open} back={`/log${search ? `?${search}` : ''}`} />}
      </div>
    </>
  );
}

function identity(e: LogEntry): string {
  return e.objectName ?? e.name ?? e.object ?? '–';
}

function EntryDetail(props: { id: string; back: string }) {
  const entry = useApi<LogEntry>(`/log/${enc(props.id)}`);
  const e = entry.data;
  return (
    <section class="card detail" aria-labelledby="entry-title">
      <div class="page-head">
        <h2 id="entry-title">{e ? identity(e) : `Entry ${props.id}`}</h2>
        <Link href={props.back} class="button secondary" aria-label="Close the entry">
          Close
        </Link>
      </div>
      <ErrorBox error={entry.error} />
      <Loading loading={entry.loading && !e}>
        {e && (
          <>
            <dl class="facts">
              <div>
                <dt>Date</dt>
                <dd>{dateTime(e.at)}</dd>
              </div>
              <div>
                <dt>Action</dt>
                <dd>{e.action}</dd>
              </div>
              <div>
                <dt>Status</dt>
                <dd>
                  <Badge value={e.status} />
                </dd>
              </div>
              <div>
                <dt>Connector</dt>
                <dd>
                  <Link href={`/connectors/${enc(e.connector)}`}>{e.connector}</Link>
                  {e.phase && ` (${e.phase})`}
                </dd>
              </div>
              {e.situation && (
                <div>
                  <dt>Situation</dt>
                  <dd>{e.situation}</dd>
                </div>
              )}
              {e.runId !== undefined && (
                <div>
                  <dt>Run</dt>
                  <dd>
                    <Link href={`/runs/${enc(String(e.runId))}`}>{e.runId}</Link>
                  </dd>
                </div>
              )}
              {e.mvId && (
                <div>
                  <dt>Object</dt>
                  <dd>
                    <Link href={`/objects/${enc(e.mvId)}`}>view across connectors</Link>
                  </dd>
                </div>
              )}
            </dl>
            {(e.steps?.length ?? 0) > 0 && (
              <>
                <h3>Steps</h3>
                <ol class="steps">
                  {e.steps!.map((s, i) => (
                    <li key={i}>
                      <strong>{s.step}</strong> {s.detail}
                    </li>
                  ))}
                </ol>
              </>
            )}
            {e.error && (
              <>
                <h3>Troubleshooting</h3>
                <div class="alert alert-bad">
                  {e.error.message} {e.error.code && <code class="code">{e.error.code}</code>}
                  {e.error.attribute && <div>Attribute: {e.error.attribute}</div>}
                  {e.error.retryable !== undefined && (
                    <div>
                      {e.error.retryable
                        ? 'idsync retries it in the next cycles.'
                        : 'Retrying will not help: fix the cause, then retry.'}
                    </div>
                  )}
                </div>
              </>
            )}
            <h3>Modified properties</h3>
            <Changes changes={e.changes} caption="Old → new, per attribute" />
          </>
        )}
      </Loading>
    </section>
  );
}
