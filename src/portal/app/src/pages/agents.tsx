/** Agents: who is connected in which group; admins make registration tokens (shown once) and revoke agents. */
import { useState } from 'preact/hooks';
import { allows, api, enc, type Role } from '../api';
import { useAction, useApi } from '../hooks';
import type { Agent, List } from '../types';
import { Badge, Empty, ErrorBox, Loading, When } from '../ui';
import { ShownOnce } from './tokens';

export function AgentsPage(props: { role: Role }) {
  const agents = useApi<List<Agent>>('/agents', 15_000);
  const admin = allows(props.role, 'admin');
  const [group, setGroup] = useState('');
  const [ttl, setTtl] = useState('');
  const create = useAction(() =>
    api<{ token: string }>('POST', '/agents/tokens', { group, ...(ttl && { ttlMinutes: Number(ttl) }) }),
  );
  return (
    <>
      <h1>Agents</h1>
      <ErrorBox error={agents.error} />
      <Loading loading={agents.loading && !agents.data}>
        {(agents.data?.items.length ?? 0) === 0 ? (
          <Empty>
            No agent is registered. Connectors with an agent group run their work on an agent (docs/agent.md).
          </Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Agent</th>
                  <th scope="col">Group</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">Version</th>
                  {admin && <th scope="col">Action</th>}
                </tr>
              </thead>
              <tbody>
                {agents.data!.items.map((a) => (
                  <AgentRow key={a.id} agent={a} admin={admin} onRevoked={agents.reload} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Loading>
      {admin && (
        <section class="card" aria-labelledby="reg-title">
          <h2 id="reg-title">Register an agent</h2>
          <form
            class="filters"
            onSubmit={(e) => {
              e.preventDefault();
              create.go().then(agents.reload);
            }}
          >
            <div class="field">
              <label for="a-group">Group</label>
              <input
                id="a-group"
                required
                value={group}
                onInput={(e) => setGroup((e.target as HTMLInputElement).value)}
              />
            </div>
            <div class="field">
              <label for="a-ttl">Valid for, in minutes (1–1440; empty: 60)</label>
              <input id="a-ttl" type="number" min={1} max={1440} value={ttl} onInput={(e) => setTtl((e.target as HTMLInputElement).value)} />
            </div>
            <div class="field buttons">
              <button type="submit" disabled={create.busy}>
                Create registration token
              </button>
            </div>
          </form>
          <ErrorBox error={create.error} />
          {create.result && (
            <ShownOnce token={create.result.token}>
              On the agent's host: <code>idsync agent register SERVICE_URL TOKEN</code>, then <code>idsync agent start</code> (docs/agent.md).
            </ShownOnce>
          )}
        </section>
      )}
    </>
  );
}

function AgentRow(props: { agent: Agent; admin: boolean; onRevoked: () => void }) {
  const a = props.agent;
  const revoke = useAction(() => api('DELETE', `/agents/${enc(a.id)}`));
  const status = a.state ?? a.status ?? (a.connected ? 'connected' : 'offline');
  return (
    <tr>
      <th scope="row">
        {a.name ?? a.id}
        {a.host && <div class="small muted">{a.host}</div>}
      </th>
      <td>{a.group ?? '–'}</td>
      <td>
        <Badge value={status} />
      </td>
      <td>
        <When at={a.lastSeen} />
      </td>
      <td>
        {a.version ?? '–'}
        {a.outdated && <div class="small muted">outdated</div>}
      </td>
      {props.admin && (
        <td>
          <button
            type="button"
            class="danger"
            disabled={revoke.busy}
            onClick={() => revoke.go().then(props.onRevoked)}
          >
            Revoke
          </button>
          <ErrorBox error={revoke.error} />
        </td>
      )}
    </tr>
  );
}
