/**
 * The agent's side of scoping (qualify.ts says which filters come here): each import page is filtered before
 * it is sent, so an object outside the scope of every inbound rule reading its type never leaves the premises.
 * The rules are read as the engine reads them (rules/scope: the same compiled filters, the object's attributes
 * without regard to case, its name under the connector's name attribute), so the agent drops exactly what the
 * service would have found out of scope.
 *
 * What the service must still learn:
 *  - a full import leaves an out-of-scope object out: the engine marks what a full import no longer sees as
 *    gone, which deprovisions it by its rules' deletion semantics, as Cloud Sync does for an object leaving
 *    scope;
 *  - a delta import cannot say "gone" by silence: an object that changes and is out of scope is sent as a
 *    delete of its anchor (nothing else of it), so one that was in scope leaves it, and one that never was is
 *    a delete of an anchor the service does not hold, which changes nothing: the result after a delta is
 *    the result after a full import;
 *  - a delta's partial change (modify) cannot be judged without the rest of the object: one that touches no
 *    attribute the filters read cannot move the object in or out of scope and is sent marked onlyIfKnown (the
 *    engine skips it for an object it does not hold); one that does is sent as it is and judged by the
 *    service's rules.
 *  - a full import given a watermark may vouch for a row as `same` (the CSV feed's row digests): the agent
 *    keeps, in its own state folder, the anchors each full import left on the premises, in a file named after
 *    the watermark that import ended with and the filters; given that watermark back, a `same` of one of
 *    those stays here too. (Another agent of the group has neither the feed's digests nor this file: it reads
 *    and filters every row.)
 * A change of the filters changes the connector's settings hash on the service (config/load.ts), so the next
 * import is a full one given no watermark: nothing "unchanged" is vouched for under the old filters.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImportChange, ImportPage } from '../../connectors/contract.js';
import { errorMessage } from '../../core/errors.js';
import { flowInput } from '../../engine/attributes.js';
import { compileScope } from '../../rules/index.js';
import type { CompiledScope, FlowInput, ScopeFilter } from '../../rules/types.js';

interface TypeScope {
  filters: CompiledScope[];
  /** the attributes the filters read, lower case */
  reads: Set<string>;
}

/** How many objects of an import stayed on the agent and how many crossed. */
export interface ScopeCounts {
  /** objects (upserts) sent */
  sent: number;
  /** out-of-scope objects not sent at all (full import) */
  kept: number;
  /** out-of-scope objects of a delta sent as the delete of their anchor only */
  anchorsOnly: number;
  /** objects the connector vouched for as unchanged (`same`), sent as their anchor */
  same: number;
}

export class AgentScopeFilter {
  private readonly types = new Map<string, TypeScope>();
  /** problems compiling a filter (an agent older than the service's rules language): that type is not filtered */
  readonly problems: string[] = [];

  /** the filters' identity: the anchors kept under other filters are not these */
  readonly key: string;

  constructor(scope: Record<string, ScopeFilter[]>) {
    this.key = createHash('sha256').update(JSON.stringify(scope)).digest('hex');
    for (const [type, filters] of Object.entries(scope)) {
      try {
        const compiled = filters.map(compileScope);
        this.types.set(type, { filters: compiled, reads: new Set(compiled.flatMap((f) => f.attributes.map((a) => a.toLowerCase()))) });
      } catch (err) {
        this.problems.push(`the scoping filters of object type ${type} do not compile on this agent (${errorMessage(err)}): every object of that type is sent`);
      }
    }
  }

  /**
   * One import's filtering. `nameAttribute` is the connector's (capabilities.nameAttribute): the rules read an
   * object's name (an LDAP DN) under it. `folder` keeps the anchors a full import left here (see the head).
   */
  open(mode: 'full' | 'delta', nameAttribute: string | undefined, folder: string, watermark: string | null): ScopedImport {
    return new ScopedImport(this, mode, nameAttribute?.toLowerCase(), folder, watermark);
  }

  /** the filters of `type` (undefined: its objects all cross) */
  typeScope(type: string): TypeScope | undefined {
    return this.types.get(type);
  }
}

export class ScopedImport {
  readonly counts: ScopeCounts = { sent: 0, kept: 0, anchorsOnly: 0, same: 0 };
  /** the anchors this (full) import leaves here, for the next one given its watermark */
  private readonly kept = new Set<string>();
  /** those the import that left the given watermark left here */
  private readonly previous: ReadonlySet<string>;
  private watermark: string | null | undefined;

  constructor(
    private readonly scope: AgentScopeFilter,
    private readonly mode: 'full' | 'delta',
    private readonly nameAttribute: string | undefined,
    private readonly folder: string,
    given: string | null,
  ) {
    this.previous = mode === 'full' && given !== null ? readKept(folder, keyOf(scope.key, given)) : new Set();
  }

  /** The page as it leaves the agent. */
  apply(page: ImportPage): ImportPage {
    const name = this.nameAttribute;
    const counts = this.counts;
    const changes: ImportChange[] = [];
    for (const change of page.changes) {
      if (change.kind === 'upsert') {
        const scope = this.scope.typeScope(change.object.objectType);
        const { object } = change;
        if (!scope || scope.filters.some((f) => f.matches(input(object.attributes, name, object.name ?? object.anchor)))) {
          counts.sent++;
          changes.push(change);
        } else if (this.mode === 'delta') {
          counts.anchorsOnly++;
          changes.push({ kind: 'delete', anchor: object.anchor, objectType: object.objectType });
        } else {
          counts.kept++;
          this.kept.add(object.anchor);
        }
      } else if (change.kind === 'same') {
        if (this.previous.has(change.anchor)) {
          counts.kept++;
          this.kept.add(change.anchor);
        } else {
          counts.same++;
          changes.push(change);
        }
      } else if (change.kind === 'modify') {
        const scope = this.scope.typeScope(change.objectType);
        const touches = scope && (Object.keys(change.changes).some((a) => scope.reads.has(a.toLowerCase())) || (name !== undefined && scope.reads.has(name)));
        changes.push(scope && !touches ? { ...change, onlyIfKnown: true } : change);
      } else changes.push(change);
    }
    if (page.watermark !== undefined) this.watermark = page.watermark;
    return { ...page, changes };
  }

  /** The import read its last page: what it left here is kept for the next one (full imports only). */
  finish(): void {
    if (this.mode !== 'full' || this.watermark === undefined || this.watermark === null) return;
    const name = keyOf(this.scope.key, this.watermark);
    mkdirSync(this.folder, { recursive: true, mode: 0o700 });
    const tmp = join(this.folder, `${name}.tmp`);
    writeFileSync(tmp, JSON.stringify([...this.kept]), { mode: 0o600 });
    renameSync(tmp, join(this.folder, name));
    // only the newest file is ever asked for again
    for (const f of readdirSync(this.folder)) if (f !== name) rmSync(join(this.folder, f), { force: true });
  }
}

function keyOf(scopeKey: string, watermark: string): string {
  return createHash('sha256').update(scopeKey).update('\0').update(watermark).digest('hex').slice(0, 32);
}

function readKept(folder: string, name: string): Set<string> {
  try {
    const list = JSON.parse(readFileSync(join(folder, name), 'utf8')) as unknown;
    return new Set(Array.isArray(list) ? list.filter((a): a is string => typeof a === 'string') : []);
  } catch {
    return new Set(); // none (another agent's import, a first import): every `same` crosses as its anchor
  }
}

function input(attributes: Parameters<typeof flowInput>[0], nameAttribute: string | undefined, name: string): FlowInput {
  const plain = flowInput(attributes);
  if (nameAttribute === undefined) return plain;
  const names = [name];
  return { get: (attribute) => (attribute.toLowerCase() === nameAttribute ? names : plain.get(attribute)) };
}
