/** Tokens for SCIM clients and API scripts: listed by name (never their value); admins create and revoke. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { allows, api, enc, type Role } from '../api';
import { useAction, useApi } from '../hooks';
import type { List, TokenRow } from '../types';
import { Empty, ErrorBox, Loading, When } from '../ui';

export function TokensPage(props: { role: Role }) {
  const tokens = useApi<List<TokenRow>>('/tokens');
  const admin = allows(props.role, 'admin');
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'scim' | 'api'>('scim');
  const [role, setRole] = useState<Role>('reader');
  const create = useAction(() =>
    api<{ token: string }>('POST', '/tokens', { name, kind, ...(kind === 'api' && { role }) }),
  );
  return (
    <>
      <h1>Tokens</h1>
      <ErrorBox error={tokens.error} />
      <Loading loading={tokens.loading && !tokens.data}>
        {(tokens.data?.items.length ?? 0) === 0 ? (
          <Empty>No tokens yet.</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Role or endpoints</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  {admin && <th scope="col">Action</th>}
                </tr>
              </thead>
              <tbody>
                {tokens.data!.items.map((t) => (
                  <TokenLine key={`${t.kind}-${t.name}`} token={t} admin={admin} onRevoked={tokens.reload} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Loading>
      {admin && (
        <section class="card" aria-labelledby="new-token">
          <h2 id="new-token">Create a token</h2>
          <form
            class="filters"
            onSubmit={(e) => {
              e.preventDefault();
              create.go().then(tokens.reload);
            }}
          >
            <div class="field">
              <label for="t-name">Name</label>
              <input
                id="t-name"
                required
                value={name}
                onInput={(e) => setName((e.target as HTMLInputElement).value)}
              />
            </div>
            <div class="field">
              <label for="t-kind">Kind</label>
              <select
                id="t-kind"
                value={kind}
                onChange={(e) => setKind((e.target as HTMLSelectElement).value as 'scim' | 'api')}
              >
                <option value="scim">SCIM client</option>
                <option value="api">admin API script</option>
              </select>
            </div>
            {kind === 'api' && (
              <div class="field">
                <label for="t-role">Role</label>
                <select
                  id="t-role"
                  value={role}
                  onChange={(e) => setRole((e.target as HTMLSelectElement).value as Role)}
                >
                  <option value="reader">reader</option>
                  <option value="operator">operator</option>
                  <option value="admin">admin</option>
                </select>
              </div>
            )}
            <div class="field buttons">
              <button type="submit" disabled={create.busy}>
                Create
              </button>
            </div>
          </form>
          <ErrorBox error={create.error} />
          {create.result && (
            <ShownOnce token={create.result.token}>Give it to the client as a bearer token.</ShownOnce>
          )}
        </section>
      )}
    </>
  );
}

function TokenLine(props: { token: TokenRow; admin: boolean; onRevoked: () => void }) {
  const t = props.token;
  const revoke = useAction(() =>
    api('DELETE', `/tokens/${enc(t.name)}`),
  );
  return (
    <tr>
      <th scope="row">{t.name}</th>
      <td>{t.kind ?? 'scim'}</td>
      <td>{t.role ?? (t.endpoints && t.endpoints.length > 0 ? t.endpoints.join(', ') : 'every endpoint')}</td>
      <td>
        <When at={t.created ?? t.createdAt} />
      </td>
      <td>
        <When at={t.lastUsed} />
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

/** A new secret: shown this once, with a copy button; the portal keeps it nowhere. */
export function ShownOnce(props: { token: string; children?: ComponentChildren }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="alert alert-good" role="status">
      <p>
        <strong>Copy it now: it is shown only this once.</strong>
      </p>
      <p>
        <code class="secret">{props.token}</code>{' '}
        <button
          type="button"
          class="secondary"
          onClick={() =>
            navigator.clipboard?.writeText(props.token).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
      </p>
      {props.children && <p class="small">{props.children}</p>}
    </div>
  );
}
