/**
 * Objects: a search by any name across the metaverse and the connector spaces, and one person or group
 * across every connector with the explain steps and "provision on demand" (explain and apply for that one
 * object), showing what it did.
 */
import { useEffect, useState } from 'preact/hooks';
import { allows, api, enc, query, type Role } from '../api';
import { useAction, useApi } from '../hooks';
import { Link, navigate, useLocation } from '../router';
import type { Explain, ExplainStep, FoundObject, List, ObjectView, ProvisionResult } from '../types';
import { Attributes, Badge, Changes, Empty, ErrorBox, Loading, text } from '../ui';

export function ObjectsPage() {
  const { params } = useLocation();
  const q = params.get('q') ?? '';
  const [draft, setDraft] = useState(q);
  useEffect(() => setDraft(q), [q]);
  const found = useApi<List<FoundObject>>(q ? `/objects${query({ q })}` : undefined);
  return (
    <>
      <h1>Objects</h1>
      <search aria-label="Find an object">
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            navigate(`/objects${query({ q: draft.trim() })}`);
          }}
        >
          <div class="field grow">
            <label for="q">Name (display name, user name, email, DN, anchor)</label>
            <input
              id="q"
              type="search"
              value={draft}
              onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
            />
          </div>
          <div class="field buttons">
            <button type="submit">Find</button>
          </div>
        </form>
      </search>
      {q && (
        <section aria-labelledby="found-title">
          <h2 id="found-title">Found for “{q}”</h2>
          <ErrorBox error={found.error} />
          <Loading loading={found.loading && !found.data}>
            {(found.data?.items.length ?? 0) === 0 ? (
              <Empty>Nothing is called “{q}”.</Empty>
            ) : (
              <ul class="found">
                {found.data!.items.map((o) => (
                  <li key={o.id}>
                    <Link href={`/objects/${enc(o.id)}`}>{o.name ?? o.id}</Link>{' '}
                    <span class="muted">
                      {o.objectType}
                      {o.connectors &&
                        o.connectors.length > 0 &&
                        ` · ${o.connectors.map((c) => (typeof c === 'string' ? c : c.connector)).join(', ')}`}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </Loading>
        </section>
      )}
    </>
  );
}

export function ObjectPage(props: { id: string; role: Role }) {
  const o = useApi<ObjectView>(`/objects/${enc(props.id)}`);
  const d = o.data;
  const connectors = (d?.connectors ?? []).map((c) => c.connector);
  const [target, setTarget] = useState('');
  const explain = useApi<Explain | { items?: ExplainStep[] }>(
    d ? `/objects/${enc(props.id)}/explain${query({ connector: target })}` : undefined,
  );
  const provision = useAction(() =>
    api<ProvisionResult>('POST', `/objects/${enc(props.id)}/provision`, target ? { connector: target } : {}),
  );
  return (
    <>
      <p class="crumbs">
        <Link href="/objects">Objects</Link> / object
      </p>
      <ErrorBox error={o.error} />
      <Loading loading={o.loading && !d}>
        {d && (
          <>
            <div class="page-head">
              <h1>{d.name ?? d.id}</h1>
              <span class="muted">{d.objectType}</span>
            </div>
            <section class="card" aria-labelledby="pod-title">
              <h2 id="pod-title">Provision on demand</h2>
              <p>
                Runs this one object through the rules now and exports what they decide, as a cycle would,
                without touching anything else.
              </p>
              <div class="filters">
                <div class="field">
                  <label for="pod-connector">Target connector</label>
                  <select
                    id="pod-connector"
                    value={target}
                    onChange={(e) => setTarget((e.target as HTMLSelectElement).value)}
                  >
                    <option value="">every connector its rules reach</option>
                    {connectors.map((c) => (
                      <option key={c} value={c}>
                        {c}
                      </option>
                    ))}
                  </select>
                </div>
                {allows(props.role, 'operator') && (
                  <div class="field buttons">
                    <button
                      type="button"
                      onClick={() => provision.go().then(o.reload)}
                      disabled={provision.busy}
                    >
                      {provision.busy ? 'Provisioning…' : 'Provision on demand'}
                    </button>
                  </div>
                )}
              </div>
              <ErrorBox error={provision.error} />
              {provision.result && <ProvisionOutcome result={provision.result} />}
            </section>
            <section aria-labelledby="mv-title">
              <h2 id="mv-title">Metaverse</h2>
              <Attributes
                attributes={d.metaverse?.attributes}
                caption="What idsync holds about this object"
              />
            </section>
            <section aria-labelledby="cs-title">
              <h2 id="cs-title">Connectors</h2>
              {(d.connectors ?? []).length === 0 && <Empty>No connector has this object.</Empty>}
              <div class="grid-2">
                {(d.connectors ?? []).map((c) => (
                  <article
                    class="card"
                    key={`${c.connector}-${c.anchor}`}
                    aria-label={`${c.connector}: ${c.name ?? c.anchor}`}
                  >
                    <h3>
                      <Link href={`/connectors/${enc(c.connector)}`}>{c.connector}</Link>{' '}
                      {c.state && <Badge value={c.state} />}
                    </h3>
                    <p class="small">
                      {c.name && <span>{c.name}</span>}{' '}
                      {c.anchor && <span class="muted">anchor {c.anchor}</span>}
                    </p>
                    <Attributes attributes={c.attributes} caption={`In ${c.connector}`} />
                  </article>
                ))}
              </div>
            </section>
            <section aria-labelledby="explain-title">
              <h2 id="explain-title">Explain{target ? ` (${target})` : ''}</h2>
              <p>
                <Link href={`/log${query({ object: d.name ?? d.id })}`}>Provisioning log of this object</Link>
              </p>
              <ErrorBox error={explain.error} />
              <Loading loading={explain.loading && !explain.data}>
                {explain.data && <ExplainView explain={explain.data} />}
              </Loading>
            </section>
          </>
        )}
      </Loading>
    </>
  );
}

function stepsOf(e: Explain | ExplainStep[] | { items?: ExplainStep[] } | undefined): ExplainStep[] {
  if (!e) return [];
  if (Array.isArray(e)) return e;
  if ('steps' in e && Array.isArray(e.steps)) return e.steps;
  if ('items' in e && Array.isArray(e.items)) return e.items;
  return [];
}

function ExplainView(props: { explain: Explain | ExplainStep[] | { items?: ExplainStep[] } }) {
  const steps = stepsOf(props.explain);
  const changes =
    !Array.isArray(props.explain) && 'changes' in props.explain
      ? (props.explain as Explain).changes
      : undefined;
  return (
    <>
      {steps.length === 0 ? (
        <Empty>No steps.</Empty>
      ) : (
        <ol class="steps">
          {steps.map((s, i) => (
            <li key={i}>
              {s.step && <strong>{s.step}</strong>} {s.detail ?? stepText(s)}
            </li>
          ))}
        </ol>
      )}
      {changes && changes.length > 0 && <Changes changes={changes} caption="What a run would change" />}
    </>
  );
}

function stepText(s: ExplainStep): string {
  const { step: _s, detail: _d, ...rest } = s;
  return Object.entries(rest)
    .map(([k, v]) => `${k}: ${text(v)}`)
    .join('; ');
}

function ProvisionOutcome(props: { result: ProvisionResult }) {
  const r = props.result;
  const result = typeof r.result === 'string' ? { status: r.result } : (r.result ?? {});
  const status = String(result.status ?? result.action ?? 'done');
  const failed = /fail|error/i.test(status);
  return (
    <div class={`alert ${failed ? 'alert-bad' : 'alert-good'} outcome`} role="status" data-outcome={status}>
      <p>
        <strong>Result:</strong> <Badge value={status} />{' '}
        {result.message && <span>{String(result.message)}</span>}
      </p>
      <ExplainView explain={r.explain ?? []} />
      <ResultDetail result={result} />
    </div>
  );
}

function ResultDetail(props: { result: Record<string, unknown> }) {
  const { status: _s, message: _m, ...rest } = props.result;
  const exports = (rest.exports ?? rest.changes ?? rest.results) as unknown;
  if (Array.isArray(exports) && exports.length > 0) {
    return (
      <ul class="small">
        {exports.map((x, i) => (
          <li key={i}>
            {typeof x === 'object' && x
              ? Object.entries(x as Record<string, unknown>)
                  .map(([k, v]) => `${k}: ${text(v)}`)
                  .join(', ')
              : text(x)}
          </li>
        ))}
      </ul>
    );
  }
  return null;
}
