/**
 * The names a person knows objects by, for every output: a target's own name where it has one (an LDAP DN),
 * else an identifying attribute (userName, email, displayName...), else the anchor (a table key). Ids stay
 * in the --json shapes beside these names; the human output shows the names.
 */
import { type Attributes, isReference } from '../core/values.js';
import type { CsObject, LogEntry, MvObject, Store } from '../store/types.js';

/** Attributes people recognise an object by, in the order a person would look for them. */
export const IDENTIFYING = ['userName', 'userPrincipalName', 'sAMAccountName', 'uid', 'cn', 'displayName', 'mail', 'email', 'externalId', 'name'];

/** The first identifying attribute's value, if the object has one. */
export function identifyingValue(attributes: Attributes): string | undefined {
  for (const key of IDENTIFYING) {
    const v = attributes[key]?.[0];
    if (typeof v === 'string' || typeof v === 'number') return String(v);
  }
  return undefined;
}

/** A connector-space object's name: its own name when that is not its anchor (a DN), an identifying value, the anchor. */
export function csLabel(cs: Pick<CsObject, 'anchor' | 'name' | 'attributes' | 'objectType'>): string {
  if (cs.name && cs.name !== cs.anchor) return cs.name;
  return identifyingValue(cs.attributes) ?? cs.anchor ?? cs.name ?? `new ${cs.objectType}`;
}

/** A metaverse object's name: an identifying value, or its id when it has none. */
export function mvLabel(mv: Pick<MvObject, 'id' | 'attributes'>): string {
  return identifyingValue(mv.attributes) ?? mv.id;
}

/**
 * Names for references of one connector, given as the values the connector holds (its objects' names):
 * value → the name of the object it refers to. `viaMv` maps a value to the metaverse object it stands for,
 * for objects the connector space cannot name yet (created in this run); a value that is a metaverse id is
 * named from the metaverse too. Values found nowhere are left out.
 */
export async function referenceNames(
  store: Store,
  connector: string,
  values: Iterable<string>,
  viaMv?: ReadonlyMap<string, string>,
): Promise<Map<string, string>> {
  const wanted = [...new Set(values)];
  const out = new Map<string, string>();
  if (wanted.length === 0) return out;
  const found = await store.csByNames(connector, wanted);
  const missing = new Map<string, string>();
  for (const v of wanted) {
    const cs = found.get(v);
    if (cs) out.set(v, csLabel(cs));
    // not in the target yet: named from the metaverse (a value may be a metaverse id itself)
    else missing.set(v, viaMv?.get(v) ?? v);
  }
  if (missing.size > 0) {
    const mvs = await store.mvByIds([...new Set(missing.values())]);
    for (const [v, id] of missing) {
      const mv = mvs.get(id);
      if (mv) out.set(v, mvLabel(mv));
    }
  }
  // A name that is the value itself (an LDAP DN names itself) adds nothing.
  for (const [v, name] of out) if (name === v) out.delete(v);
  return out;
}

/** Names of metaverse objects: id → name (ids of purged objects are left out). */
export async function metaverseNames(store: Store, ids: Iterable<string>): Promise<Map<string, string>> {
  const wanted = [...new Set(ids)];
  const out = new Map<string, string>();
  if (wanted.length === 0) return out;
  for (const [id, mv] of await store.mvByIds(wanted)) out.set(id, mvLabel(mv));
  return out;
}

/** The reference values among `attributes`' values (as the connector names them). */
export function referenceValues(attributes: Attributes, only?: Iterable<string>): string[] {
  const out: string[] = [];
  for (const attr of only ?? Object.keys(attributes)) for (const v of attributes[attr] ?? []) if (isReference(v)) out.push(v.ref);
  return out;
}

/** What an opaque id looks like in output: a UUID (metaverse ids, the built-in directory's ids, entryUUIDs). */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** The UUIDs a text shows. */
export function idsIn(text: string): string[] {
  return text.match(UUID) ?? [];
}

/** `text` with every id that has a name replaced by it. */
export function withNames(text: string, names: Readonly<Record<string, string>> | undefined): string {
  if (!names) return text;
  return text.replace(UUID, (id) => names[id] ?? id);
}

/**
 * Names of ids met in output: metaverse ids first, then anchors of each connector's objects. Two look-ups
 * per connector at most, whatever the number of ids.
 */
export async function namesOfIds(store: Store, connectors: Iterable<string>, ids: Iterable<string>): Promise<Map<string, string>> {
  const wanted = new Set(ids);
  const out = await metaverseNames(store, wanted);
  // a metaverse object purged since: the last name the log knew it by
  const purged = [...wanted].filter((id) => !out.has(id));
  if (purged.length > 0) {
    for (const [id, names] of await store.loggedNames(purged)) {
      const named = names.filter((n) => idsIn(n).length === 0).at(-1);
      if (named) out.set(id, named);
    }
  }
  for (const connector of connectors) {
    const rest = [...wanted].filter((id) => !out.has(id));
    if (rest.length === 0) break;
    for (const [anchor, cs] of await store.csByAnchors(connector, rest)) {
      const label = csLabel(cs);
      if (label !== anchor) out.set(anchor, label);
    }
    const unnamed = rest.filter((id) => !out.has(id));
    if (unnamed.length === 0) break;
    for (const [name, cs] of await store.csByNames(connector, unnamed)) {
      const label = csLabel(cs);
      if (label !== name) out.set(name, label);
    }
  }
  return out;
}

/**
 * Completes log entries for output: each entry's `names` gains the names of the ids its text shows (its
 * object, values, steps), and an entry recorded under an id gets the name of that object as `name`.
 */
export async function nameLogEntries<T extends LogEntry>(store: Store, connectors: Iterable<string>, entries: T[]): Promise<T[]> {
  const texts = (e: LogEntry) => [e.object, ...e.steps.map((s) => s.detail), ...e.changes.flatMap((c) => [...c.old, ...c.new])];
  const ids = new Set<string>();
  for (const e of entries) for (const t of texts(e)) for (const id of idsIn(t)) if (!e.names?.[id]) ids.add(id);
  if (ids.size === 0) return entries;
  const names = await namesOfIds(store, connectors, ids);
  return entries.map((e) => {
    const mine: Record<string, string> = { ...e.names };
    for (const t of texts(e)) for (const id of idsIn(t)) if (!mine[id] && names.has(id)) mine[id] = names.get(id)!;
    const name = !e.name || e.name === e.object ? (mine[e.object] ?? e.name) : e.name;
    return { ...e, ...(name ? { name } : {}), ...(Object.keys(mine).length > 0 ? { names: mine } : {}) };
  });
}
