/** Small shared pieces of the pages: status badges, times, values, errors, old → new tables. */
import type { ComponentChildren } from 'preact';
import type { ApiError } from './api';
import type { Change, Connector, ConnectorDetail, Hold, ObjectErrorRow, Phase, RunSummary } from './types';

export function Badge(props: { value: string | undefined | null; label?: string }) {
  const v = (props.value ?? 'unknown').toLowerCase();
  const tone = /^(ok|success|succeeded|connected|online|active)$/.test(v)
    ? 'good'
    : /^(warning|held|hold|skipped|planned|pending|running|in-flight|partial|incomplete)$/.test(v)
      ? 'warn'
      : /^(error|failed|failure|quarantined|offline|disconnected|revoked|denied)$/.test(v)
        ? 'bad'
        : 'neutral';
  return <span class={`badge badge-${tone}`}>{props.label ?? props.value ?? 'unknown'}</span>;
}

const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** A time as "3 min ago" / "in 20 min", the exact time on hover and for screen readers. */
export function When(props: { at: string | undefined | null }) {
  if (!props.at) return <span class="muted">–</span>;
  const d = new Date(props.at);
  if (Number.isNaN(d.getTime())) return <span>{props.at}</span>;
  return (
    <time dateTime={d.toISOString()} title={d.toLocaleString()}>
      {relative(d)}
    </time>
  );
}

export function relative(d: Date): string {
  const s = Math.round((d.getTime() - Date.now()) / 1000);
  const a = Math.abs(s);
  if (a < 45) return rtf.format(s, 'second');
  if (a < 2700) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 64_800) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86_400), 'day');
}

export function dateTime(at: string | undefined | null): string {
  if (!at) return '–';
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return at;
  const sameYear = d.getFullYear() === new Date().getFullYear();
  return d.toLocaleString(undefined, {
    ...(sameYear ? {} : { year: 'numeric' }),
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function duration(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function num(n: number | undefined | null): string {
  return n === undefined || n === null ? '–' : n.toLocaleString('en');
}

/** An attribute's value(s) as text: lists one per line, references by name, nothing as an em dash. */
export function Value(props: { value: unknown }) {
  const list = Array.isArray(props.value)
    ? props.value
    : props.value === undefined || props.value === null
      ? []
      : [props.value];
  if (list.length === 0) return <span class="muted">–</span>;
  return (
    <>
      {list.map((v, i) => (
        <span class="value" key={i}>
          {text(v)}
        </span>
      ))}
    </>
  );
}

export function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.name === 'string') return o.name;
    if (typeof o.ref === 'string') return `→ ${o.ref}`;
    return JSON.stringify(v);
  }
  return String(v);
}

/** Per-attribute old → new (the Entra provisioning log's "Modified properties"). */
export function Changes(props: { changes: Change[] | undefined; caption?: string }) {
  const changes = props.changes ?? [];
  if (changes.length === 0) return <p class="muted">No attribute changes.</p>;
  return (
    <div class="table-wrap">
      <table class="changes">
        <caption>{props.caption ?? 'Modified properties'}</caption>
        <thead>
          <tr>
            <th scope="col">Attribute</th>
            <th scope="col">Old value</th>
            <th scope="col" class="arrow">
              <span class="sr-only">to</span>
            </th>
            <th scope="col">New value</th>
          </tr>
        </thead>
        <tbody>
          {changes.map((c) => (
            <tr key={c.attribute}>
              <th scope="row">{c.attribute}</th>
              <td class="old">
                <Value value={c.old} />
              </td>
              <td class="arrow" aria-hidden="true">
                →
              </td>
              <td class="new">
                <Value value={c.new} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Attributes(props: { attributes: Record<string, unknown> | undefined; caption: string }) {
  const entries = Object.entries(props.attributes ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return <p class="muted">No attributes.</p>;
  return (
    <div class="table-wrap">
      <table class="attributes">
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            <th scope="col">Attribute</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {entries.map(([k, v]) => (
            <tr key={k}>
              <th scope="row">{k}</th>
              <td>
                <Value value={v} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ErrorBox(props: { error: ApiError | undefined; title?: string }) {
  const e = props.error;
  if (!e) return null;
  return (
    <div class="alert alert-bad" role="alert">
      <strong>{props.title ?? (e.status === 403 ? 'Not allowed' : 'Failed')}:</strong> {e.message}{' '}
      <code class="code">{e.code}</code>
      {e.issues.length > 0 && (
        <ul>
          {e.issues.map((i, n) => (
            <li key={n}>
              {pathText(i.path) && <code>{pathText(i.path)}</code>} {i.message}{' '}
              <code class="code">{i.code}</code>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function pathText(path: string | (string | number)[] | undefined): string {
  if (path === undefined) return '';
  return Array.isArray(path) ? path.join('.') : path;
}

export function Loading(props: { loading: boolean; children?: ComponentChildren }) {
  return props.loading ? (
    <p class="muted" aria-live="polite">
      Loading…
    </p>
  ) : (
    <>{props.children}</>
  );
}

export function Empty(props: { children: ComponentChildren }) {
  return <p class="empty">{props.children}</p>;
}

/** The counts of a phase as "+3 ~2 -1" (added, updated, deleted) and errors. */
export function phaseCounts(p: Phase): Record<string, number> {
  if (p.counts) return p.counts;
  const out: Record<string, number> = {};
  for (const k of ['added', 'updated', 'deleted', 'unchanged', 'errors'] as const) {
    const v = p[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}

export function runMs(r: RunSummary): number | undefined {
  if (typeof r.durationMs === 'number') return r.durationMs;
  if (r.finishedAt === null) return undefined;
  if (r.startedAt && r.finishedAt) return new Date(r.finishedAt).getTime() - new Date(r.startedAt).getTime();
  return undefined;
}

export function lastRunOf(c: Connector | ConnectorDetail): { at?: string; status?: string } {
  const l = c.lastRun;
  if (!l) return {};
  if (typeof l === 'string') return { at: l };
  const r = l as RunSummary & { at?: string };
  return { at: r.finishedAt ?? r.at ?? r.startedAt ?? undefined, status: r.status };
}

/** A connector's counts, whichever spelling the API uses. */
export function countsOf(c: Connector | ConnectorDetail): {
  objects?: number;
  pendingExports?: number;
  errors?: number;
} {
  const errors =
    typeof c.errors === 'number' ? c.errors : Array.isArray(c.errors) ? c.errors.length : undefined;
  return {
    objects: c.objects ?? c.counts?.objects,
    pendingExports: c.pendingExports ?? c.counts?.pendingExports,
    errors: errors ?? c.counts?.errors,
  };
}

/** A connector's holds (none, or one per phase that holds). */
export function holdsOf(c: Connector | ConnectorDetail): Hold[] {
  return c.holds ?? (c.hold ? [c.hold] : []);
}

export function heldCount(c: Connector | ConnectorDetail): number {
  return holdsOf(c).reduce((n, h) => n + (h.count ?? 0), 0);
}

/** The objects in error of a connector's detail. */
export function objectErrorsOf(c: ConnectorDetail): ObjectErrorRow[] {
  return c.objectErrors ?? (Array.isArray(c.errors) ? c.errors : []);
}
