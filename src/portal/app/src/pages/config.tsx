/**
 * Configuration: the loaded idsync.yaml read-only (secrets shown as "set") with its validation results; a
 * proposed edit is validated by the server and shown as a line diff and a plan diff (what a run would do
 * differently) before anyone saves it. The portal never writes the file: the reviewed text is copied into it.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { allows, api, type Role } from '../api';
import { useAction, useApi } from '../hooks';
import type { ConfigIssue, ConfigPlan, ConfigView, ValidateResult } from '../types';
import { Badge, Changes, duration, ErrorBox, Loading, num, pathText } from '../ui';

export function ConfigPage(props: { role: Role }) {
  const config = useApi<ConfigView>('/config');
  const [draft, setDraft] = useState<string | undefined>(undefined);
  const validate = useAction((yaml: string) => api<ValidateResult>('POST', '/config/validate', { yaml }));
  const [copied, setCopied] = useState(false);
  const editor = useRef<HTMLTextAreaElement>(null);
  const yaml = config.data?.yaml ?? '';
  useEffect(() => setCopied(false), [draft]);
  /** puts the editor's cursor at a problem's line and column */
  const jump = (line: number, column: number) => {
    const area = editor.current;
    if (!area) return;
    const lines = area.value.split('\n');
    let at = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) at += lines[i]!.length + 1;
    at += Math.max(0, column - 1);
    area.focus();
    area.setSelectionRange(at, at);
  };
  const result = validate.result;
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
                <label for="proposal">
                  The whole file, edited (a secret left as <code>set</code> keeps its current value)
                </label>
                <textarea
                  id="proposal"
                  ref={editor}
                  class="yaml"
                  spellcheck={false}
                  rows={24}
                  value={draft}
                  onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)}
                />
                <div class="actions">
                  <button type="button" onClick={() => validate.go(draft)} disabled={validate.busy}>
                    {validate.busy ? 'Validating and planning…' : 'Validate and show plan'}
                  </button>{' '}
                  <button type="button" class="secondary" onClick={() => setDraft(undefined)}>
                    Discard
                  </button>
                </div>
                <ErrorBox error={validate.error} />
                <h3>Changed lines</h3>
                <LineDiff before={yaml} after={draft} />
                {result && (
                  <div data-validated={result.valid ? 'valid' : 'invalid'}>
                    <Issues issues={result.issues} title="Validation of the proposal" onJump={jump} />
                    {result.changes && <ConfigChanges changes={result.changes} />}
                    {result.valid && (
                      <>
                        <h3>Plan</h3>
                        <p class="muted">
                          What a run with the proposal would do now, computed on a copy of the state: the
                          sources were read, nothing was written or sent.
                        </p>
                        {result.planError && (
                          <p class="alert alert-bad" role="alert">
                            The plan could not be computed: {result.planError.message}{' '}
                            <code class="code">{result.planError.code}</code>
                          </p>
                        )}
                        {result.plan && <ConfigPlanView plan={result.plan} />}
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
                      </>
                    )}
                  </div>
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

/** line and column of an issue: the API's location ends with :line:column */
function placeOf(i: ConfigIssue): { line: number; column: number } | undefined {
  const m = /:(\d+):(\d+)$/.exec(i.location ?? '');
  if (m) return { line: Number(m[1]), column: Number(m[2]) };
  return i.line !== undefined ? { line: i.line, column: i.column ?? 1 } : undefined;
}

function Issues(props: { issues: ConfigIssue[]; title: string; onJump?: (line: number, column: number) => void }) {
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
      <ul class="issues">
        {props.issues.map((i, n) => {
          const at = placeOf(i);
          const where = pathText(i.path);
          return (
            <li key={n} data-line={at?.line} data-column={at?.column}>
              {at &&
                (props.onJump ? (
                  <button type="button" class="link" onClick={() => props.onJump!(at.line, at.column)}>
                    {at.line}:{at.column}
                  </button>
                ) : (
                  <code>
                    {at.line}:{at.column}
                  </code>
                ))}{' '}
              {where && <code>{where}</code>} {i.message} <code class="code">{i.code}</code>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function ConfigChanges(props: { changes: NonNullable<ValidateResult['changes']> }) {
  const rows = (
    [
      ['Connectors', props.changes.connectors],
      ['Rules', props.changes.rules],
    ] as const
  ).flatMap(([what, c]) =>
    (['added', 'removed', 'changed'] as const).filter((k) => c[k].length > 0).map((k) => `${what} ${k}: ${c[k].join(', ')}`),
  );
  if (rows.length === 0) return <p class="muted">No connector or rule is added, removed or changed.</p>;
  return (
    <ul class="config-changes">
      {rows.map((r) => (
        <li key={r}>{r}</li>
      ))}
    </ul>
  );
}

/** The plan of the proposal: per target its counts, then each change with its attributes old → new. */
function ConfigPlanView(props: { plan: ConfigPlan }) {
  const { plan } = props;
  const failed = plan.phases.filter((p) => p.status === 'failed' || p.status === 'skipped');
  return (
    <div class="config-plan" data-plan-status={plan.status}>
      <p>
        Status <Badge value={plan.status} /> in {duration(plan.durationMs)}
      </p>
      {failed.length > 0 && (
        <ul class="alert alert-bad" role="alert">
          {failed.map((p) => (
            <li key={`${p.connector} ${p.phase}`}>
              {p.connector} {p.phase} {p.status}
              {p.detail ? `: ${p.detail}` : ''}
            </li>
          ))}
        </ul>
      )}
      {plan.holds.map((h) => (
        <p class="alert alert-warn" key={`${h.connector} ${h.phase}`}>
          Held: {h.message}
        </p>
      ))}
      {plan.connectors.length === 0 ? (
        <p data-plan-empty="true">The proposal changes nothing a run would export now.</p>
      ) : (
        <div class="table-wrap">
          <table class="plan-counts">
            <caption>Changes per target</caption>
            <thead>
              <tr>
                <th scope="col">Connector</th>
                <th scope="col">Create</th>
                <th scope="col">Update</th>
                <th scope="col">Delete</th>
                <th scope="col">Held</th>
              </tr>
            </thead>
            <tbody>
              {plan.connectors.map((c) => (
                <tr key={c.connector} data-connector={c.connector}>
                  <th scope="row">{c.connector}</th>
                  <td>{num(c.create)}</td>
                  <td>{num(c.update)}</td>
                  <td>{num(c.delete)}</td>
                  <td>{num(c.held)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ul class="plan-changes">
        {[...plan.changes, ...plan.held.map((c) => ({ ...c, held: true }))].map((c, i) => (
          <li key={i} data-op={c.op} data-object={c.name}>
            <details>
              <summary>
                {c.connector} <strong>{c.op}</strong> {c.name ?? c.object}
                {c.newName ? ` → ${c.newName}` : ''}
                {c.disable ? ' (disable)' : ''}
                {c.held ? ' (held)' : ''}
              </summary>
              <Changes changes={c.attributes ?? c.changes} caption={`${c.name ?? c.object}: old → new`} />
            </details>
          </li>
        ))}
      </ul>
      {plan.truncated && <p class="muted">More changes than listed here; the counts above cover them all.</p>}
    </div>
  );
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
