/** The audit log: who did what, when, to what, and how it ended. */
import { useState } from 'preact/hooks';
import { api, enc } from '../api';
import { useApi } from '../hooks';
import type { AuditEntry, List } from '../types';
import { Badge, dateTime, Empty, ErrorBox, Loading } from '../ui';

export function AuditPage() {
  const audit = useApi<List<AuditEntry>>('/audit?limit=100', 30_000);
  const [more, setMore] = useState<{ items: AuditEntry[]; next?: string | undefined }>({ items: [] });
  const items = [...(audit.data?.items ?? []), ...more.items];
  const next = more.items.length > 0 ? more.next : audit.data?.next;
  return (
    <>
      <h1>Audit log</h1>
      <ErrorBox error={audit.error} />
      <Loading loading={audit.loading && !audit.data}>
        {items.length === 0 ? (
          <Empty>No actions recorded yet.</Empty>
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
              const page = await api<List<AuditEntry>>('GET', `/audit?limit=100&cursor=${enc(next)}`);
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
