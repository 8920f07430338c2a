/**
 * Configuration: the loaded idsync.yaml read-only (secrets shown as "set") with its validation results; a
 * proposed edit is validated by the server and shown as a line diff and a plan diff (what a run would do
 * differently) before anyone saves it. The portal never writes the file: the reviewed text is copied into it.
 */
import { useEffect, useState } from 'preact/hooks';
import { allows, api, type Role } from '../api';
import { useAction, useApi } from '../hooks';
import type { ConfigIssue, ConfigView, ValidateResult } from '../types';
import { ErrorBox, Loading, pathText, text } from '../ui';

export function ConfigPage(props: { role: Role }) {
  const config = useApi<ConfigView>('/config');
  const [draft, setDraft] = useState<string | undefined>(undefined);
  const validate = useAction((yaml: string) => api<ValidateResult>('POST', '/config/validate', { yaml }));
  const [copied, setCopied] = useState(false);
  const yaml = config.data?.yaml ?? '';
  useEffect(() => setCopied(false), [draft]);
  return (
    <>
      <h1>Configuration</h1>
      <ErrorBox error={config.error} />
      <Loading loading={config.loading && !config.data}>
        {config.data && (
          <>
            <p>
              Loaded from <code>{config.data.file ?? 'idsync.yaml'}</code>. Secrets show as <code>set</code>.
            </p>
            <Issues issues={config.data.issues ?? []} title="Validation" />
            {draft === undefined ? (
              <>
                <pre class="yaml">{numbered(yaml)}</pre>
                {allows(props.role, 'admin') && (
                  <button type="button" onClick={() => setDraft(yaml)}>
                    Propose a change…
                  </button>
                )}
              </>
            ) : (
              <section class="card" aria-labelledby="proposal-title">
                <h2 id="proposal-title">Proposed change</h2>
                <label for="proposal">The whole file, edited</label>
                <textarea
                  id="proposal"
                  class="yaml"
                  spellcheck={false}
                  rows={24}
                  value={draft}
                  onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)}
                />
                <div class="actions">
                  <button type="button" onClick={() => validate.go(draft)} disabled={validate.busy}>
                    {validate.busy ? 'Validating…' : 'Validate and show the plan'}
                  </button>{' '}
                  <button type="button" class="secondary" onClick={() => setDraft(undefined)}>
                    Discard
                  </button>
                </div>
                <ErrorBox error={validate.error} />
                <h3>Changed lines</h3>
                <LineDiff before={yaml} after={draft} />
                {validate.result && (
                  <>
                    <Issues issues={validate.result.issues ?? []} title="Validation of the proposal" />
                    <h3>Plan diff</h3>
                    <PlanDiff value={validate.result.plan ?? validate.result.diff} />
                    {(validate.result.issues ?? []).length === 0 && (
                      <p>
                        To save it, put the proposal in <code>{config.data.file ?? 'idsync.yaml'}</code> on
                        the idsync host (secrets as they are there; <code>set</code> stands for them here).{' '}
                        <button
                          type="button"
                          class="secondary"
                          onClick={() =>
                            navigator.clipboard?.writeText(draft).then(
                              () => setCopied(true),
                              () => undefined,
                            )
                          }
                        >
                          {copied ? 'Copied' : 'Copy the proposal'}
                        </button>
                      </p>
                    )}
                  </>
                )}
              </section>
            )}
          </>
        )}
      </Loading>
    </>
  );
}

function numbered(yaml: string) {
  return yaml.split('\n').map((line, i) => (
    <span class="line" key={i}>
      <span class="ln" aria-hidden="true">
        {i + 1}
      </span>
      {line}
      {'\n'}
    </span>
  ));
}

function Issues(props: { issues: ConfigIssue[]; title: string }) {
  if (props.issues.length === 0) {
    return (
      <p class="alert alert-good" role="status" data-valid="true">
        {props.title}: no problems found.
      </p>
    );
  }
  return (
    <div class="alert alert-bad" role="alert" data-valid="false">
      <strong>
        {props.title}: {props.issues.length} problem{props.issues.length === 1 ? '' : 's'}
      </strong>
      <ul>
        {props.issues.map((i, n) => (
          <li key={n}>
            {(i.place ?? pathText(i.path)) && <code>{i.place ?? pathText(i.path)}</code>}
            {i.line !== undefined && ` line ${i.line}`} {i.message} <code class="code">{i.code}</code>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The plan's difference as the server gives it: lists of changes per connector, or anything else as text. */
function PlanDiff(props: { value: unknown }) {
  const v = props.value;
  if (v === undefined || v === null) return <p class="muted">No plan difference was returned.</p>;
  if (Array.isArray(v) && v.length === 0) return <p>The proposal changes nothing a run would do.</p>;
  if (Array.isArray(v)) {
    return (
      <ul class="plan">
        {v.map((x, i) => (
          <li key={i}>{planLine(x)}</li>
        ))}
      </ul>
    );
  }
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    return (
      <dl class="plan">
        {entries.map(([k, x]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>
              {Array.isArray(x) ? (
                x.length === 0 ? (
                  'none'
                ) : (
                  <ul>
                    {x.map((y, i) => (
                      <li key={i}>{planLine(y)}</li>
                    ))}
                  </ul>
                )
              ) : (
                text(x)
              )}
            </dd>
          </div>
        ))}
      </dl>
    );
  }
  return <pre>{text(v)}</pre>;
}

function planLine(x: unknown): string {
  if (typeof x !== 'object' || x === null) return text(x);
  const o = x as Record<string, unknown>;
  const head = [o.connector, o.op ?? o.action, o.objectName ?? o.name ?? o.object]
    .filter(Boolean)
    .map(String)
    .join(' ');
  const changes = Array.isArray(o.changes)
    ? (o.changes as { attribute: string; old?: unknown; new?: unknown }[])
        .map((c) => `${c.attribute}: ${text(c.old) || '–'} → ${text(c.new) || '–'}`)
        .join('; ')
    : '';
  return head ? `${head}${changes ? ` (${changes})` : ''}` : JSON.stringify(x);
}

/** A line diff of two texts (longest common subsequence; small files only: configs are). */
function LineDiff(props: { before: string; after: string }) {
  const a = props.before.split('\n');
  const b = props.after.split('\n');
  if (a.length * b.length > 4_000_000) return <p class="muted">The files are too long to compare here.</p>;
  const ops = diff(a, b);
  if (ops.every((o) => o.kind === ' ')) return <p class="muted">No change yet.</p>;
  // show changed lines with two lines of context
  const keep = new Set<number>();
  ops.forEach((o, i) => {
    if (o.kind !== ' ') for (let j = i - 2; j <= i + 2; j++) keep.add(j);
  });
  return (
    <pre class="diff">
      {ops.map((o, i) =>
        keep.has(i) ? (
          <span key={i} class={o.kind === '+' ? 'add' : o.kind === '-' ? 'del' : 'ctx'}>
            {o.kind} {o.line}
            {'\n'}
          </span>
        ) : keep.has(i - 1) ? (
          <span key={i} class="gap">
            {'…\n'}
          </span>
        ) : null,
      )}
    </pre>
  );
}

function diff(a: string[], b: string[]): { kind: ' ' | '+' | '-'; line: string }[] {
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: { kind: ' ' | '+' | '-'; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ kind: ' ', line: a[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push({ kind: '-', line: a[i++]! });
    else out.push({ kind: '+', line: b[j++]! });
  }
  while (i < n) out.push({ kind: '-', line: a[i++]! });
  while (j < m) out.push({ kind: '+', line: b[j++]! });
  return out;
}
