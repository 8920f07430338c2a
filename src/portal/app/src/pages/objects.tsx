/**
 * Objects: a search by any name across the metaverse and the connector spaces, and one person or group
 * across every connector with the explain steps and "provision on demand" (explain and apply for that one
 * object), showing what it did.
 */
import { useEffect, useState } from 'preact/hooks';
import { allows, api, enc, query, type Role } from '../api';
import { useAction, useApi } from '../hooks';
import { Link, navigate, useLocation } from '../router';
import type {
  Explain,
  ExplainStep,
  FoundObject,
  List,
  LogEntry,
  ObjectInConnector,
  ObjectView,
  PlanChange,
  ProvisionResult,
} from '../types';
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

function inConnectors(d: ObjectView | undefined): ObjectInConnector[] {
  return d?.objects ?? d?.connectors ?? [];
}

function connectorsOf(o: FoundObject): string[] {
  const names =
    o.objects?.map((x) => x.connector) ??
    o.connectors?.map((c) => (typeof c === 'string' ? c : c.connector)) ??
    [];
  return [...new Set(names)];
}

export function ObjectPage(props: { id: string; role: Role }) {
  const o = useApi<ObjectView>(`/objects/${enc(props.id)}`);
  const d = o.data;
  // explain and provision start from one of the object's connectors: by default its source's (the API picks)
  const here = [...new Set(inConnectors(d).map((c) => c.connector))];
  const [from, setFrom] = useState('');
  const explain = useApi<ExplainInput>(
    d ? `/objects/${enc(props.id)}/explain${query({ connector: from })}` : undefined,
  );
  const provision = useAction(() =>
    api<ProvisionResult>('POST', `/objects/${enc(props.id)}/provision`, from ? { connector: from } : {}),
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
                Runs this one object through the rules now, as its last import left it, and sends only its
                exports to every target, as a cycle would, without touching anything else.
              </p>
              <div class="filters">
                <div class="field">
                  <label for="pod-connector">Start from</label>
                  <select
                    id="pod-connector"
                    value={from}
                    onChange={(e) => setFrom((e.target as HTMLSelectElement).value)}
                  >
                    <option value="">its source (as a cycle does)</option>
                    {here.map((c) => (
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
              {inConnectors(d).length === 0 && <Empty>No connector has this object.</Empty>}
              <div class="grid-2">
                {inConnectors(d).map((c) => (
                  <article
                    class="card"
                    key={`${c.connector}-${c.anchor}`}
                    aria-label={`${c.connector}: ${c.name ?? c.anchor}`}
                  >
                    <h3>
                      <Link href={`/connectors/${enc(c.connector)}`}>{c.connector}</Link>{' '}
                      {c.state && <Badge value={c.state} />}
                      {c.present === false && <Badge value="warning" label="gone from the system" />}
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
              <h2 id="explain-title">Explain{from ? ` (from ${from})` : ''}</h2>
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

type ExplainInput = Explain | Explain[] | ExplainStep[] | { items?: (Explain | ExplainStep)[] } | undefined;

/** The explanations in an answer: one per connector (`idsync explain --json`), or a plain list of steps. */
function explanationsOf(e: ExplainInput): Explain[] {
  if (!e) return [];
  const list: unknown[] = Array.isArray(e)
    ? e
    : 'items' in e && Array.isArray(e.items)
      ? e.items
      : 'explanations' in e && Array.isArray((e as { explanations?: unknown }).explanations)
        ? ((e as { explanations: unknown[] }).explanations as unknown[])
        : [e];
  if (
    list.length > 0 &&
    list.every((x) => typeof x === 'object' && x !== null && !('steps' in x) && !('connector' in x))
  ) {
    return [{ steps: list as ExplainStep[] }];
  }
  return list as Explain[];
}

function isLogEntry(s: ExplainStep | LogEntry): s is LogEntry {
  return typeof (s as LogEntry).action === 'string' && typeof (s as LogEntry).connector === 'string';
}

function ExplainView(props: { explain: ExplainInput }) {
  const all = explanationsOf(props.explain);
  if (all.length === 0) return <Empty>No steps.</Empty>;
  return (
    <>
      {all.map((x, n) => (
        <div class="explain" key={`${x.connector ?? ''}-${n}`}>
          {(x.connector || x.label) && (
            <h3>
              {x.connector}
              {x.label && x.label !== x.connector ? `: ${x.label}` : ''}
              {x.situation && (
                <span class="muted small">
                  {' '}
                  ({x.situation}
                  {x.action ? `, ${x.action}` : ''})
                </span>
              )}
            </h3>
          )}
          {(x.steps ?? []).length === 0 ? (
            <p class="muted">No steps.</p>
          ) : (
            <ol class="steps">
              {(x.steps ?? []).map((s, i) =>
                isLogEntry(s) ? (
                  <li key={i}>
                    <strong>
                      {s.phase ?? ''} {s.connector}: {s.action}
                    </strong>{' '}
                    <Badge value={s.status} />
                    {(s.steps ?? []).length > 0 && (
                      <ul>
                        {s.steps!.map((t, j) => (
                          <li key={j}>
                            <strong>{t.step}</strong> {t.detail}
                          </li>
                        ))}
                      </ul>
                    )}
                    {(s.changes ?? []).length > 0 && <Changes changes={s.changes} caption="Old → new" />}
                  </li>
                ) : (
                  <li key={i}>
                    {s.step && <strong>{s.step}</strong>} {s.detail ?? stepText(s)}
                  </li>
                ),
              )}
            </ol>
          )}
          {(x.exports ?? []).length > 0 && (
            <>
              <h4>Exports</h4>
              {x.exports!.map((ex, i) => (
                <div key={i}>
                  <p>
                    <strong>
                      {ex.op} {ex.name ?? ex.object}
                    </strong>{' '}
                    in {ex.connector}
                    {ex.held && <Badge value="held" />}
                  </p>
                  <Changes changes={ex.changes ?? ex.attributes} caption="What the export sends" />
                </div>
              ))}
            </>
          )}
          {(x.changes ?? []).length > 0 && <Changes changes={x.changes} caption="What a run would change" />}
        </div>
      ))}
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
      {r.reread && (
        <p class="reread" data-reread={r.reread.status}>
          {r.reread.detail}
        </p>
      )}
      <ExplainView explain={r.explanation ?? r.explain ?? []} />
      <ResultDetail result={result} />
    </div>
  );
}

function ResultDetail(props: { result: Record<string, unknown> }) {
  const sent = (props.result.changes ?? props.result.exports) as PlanChange[] | undefined;
  if (!Array.isArray(sent)) return null;
  if (sent.length === 0) return <p>Nothing needed sending: every target already has it.</p>;
  return (
    <>
      {sent.map((ex, i) => (
        <div key={i}>
          <p>
            <strong>
              {ex.op} {ex.name ?? ex.object}
            </strong>{' '}
            in {ex.connector} {ex.held && <Badge value="held" />}
          </p>
          <Changes changes={ex.attributes ?? ex.changes} caption="Sent, old → new" />
        </div>
      ))}
    </>
  );
}
