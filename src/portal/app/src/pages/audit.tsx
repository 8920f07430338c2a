/** The audit log: who did what, when, to what, and how it ended. */
import { useEffect, useState } from 'preact/hooks';
import { api, query } from '../api';
import { useApi } from '../hooks';
import type { AuditEntry, List } from '../types';
import { Badge, dateTime, Empty, ErrorBox, Loading } from '../ui';

/** the time ranges the page filters by: their start as hours before now */
const RANGES = [
  ['', 'Any time'],
  ['1', 'Last hour'],
  ['24', 'Last 24 hours'],
  ['168', 'Last 7 days'],
  ['720', 'Last 30 days'],
] as const;

export function AuditPage() {
  const [range, setRange] = useState('');
  const [until, setUntil] = useState('');
  const since = range ? new Date(Date.now() - Number(range) * 3_600_000).toISOString() : undefined;
  // a date picked means up to the end of that day, in the browser's time zone
  const before = until ? new Date(new Date(`${until}T00:00:00`).getTime() + 86_400_000).toISOString() : undefined;
  const filter = { since, until: before };
  const path = `/audit${query({ limit: 100, ...filter })}`;
  const audit = useApi<List<AuditEntry>>(path, 30_000);
  const [more, setMore] = useState<{ items: AuditEntry[]; next?: string | undefined }>({ items: [] });
  useEffect(() => setMore({ items: [] }), [range, until]);
  const items = [...(audit.data?.items ?? []), ...more.items];
  const next = more.items.length > 0 ? more.next : audit.data?.next;
  return (
    <>
      <h1>Audit log</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label for="audit-range">Since</label>
        <select id="audit-range" value={range} onChange={(e) => setRange((e.target as HTMLSelectElement).value)}>
          {RANGES.map(([v, label]) => (
            <option key={v} value={v}>
              {label}
            </option>
          ))}
        </select>
        <label for="audit-until">Up to (a day)</label>
        <input id="audit-until" type="date" value={until} onInput={(e) => setUntil((e.target as HTMLInputElement).value)} />
      </form>
      <ErrorBox error={audit.error} />
      <Loading loading={audit.loading && !audit.data}>
        {items.length === 0 ? (
          <Empty>{range || until ? 'No actions recorded in that time.' : 'No actions recorded yet.'}</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Result</th>
                </tr>
              </thead>
              <tbody>
                {items.map((a, i) => (
                  <tr key={i}>
                    <td>{dateTime(a.at)}</td>
                    <td>{a.actor}</td>
                    <td>{a.action}</td>
                    <td>{a.target ?? '–'}</td>
                    <td>
                      <Badge value={a.result} />
                      {a.detail && <div class="small">{a.detail}</div>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {next && (
          <button
            type="button"
            class="secondary"
            onClick={async () => {
              const page = await api<List<AuditEntry>>('GET', `/audit${query({ limit: 100, ...filter, cursor: next })}`);
              setMore((m) => ({ items: [...m.items, ...page.items], next: page.next }));
            }}
          >
            Load more
          </button>
        )}
      </Loading>
    </>
  );
}
