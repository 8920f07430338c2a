/**
 * Finding objects by any of their names, across the metaverse and every connector space, the way an admin
 * uses Connect's metaverse search: `idsync find`, and the names `explain` and `log --object` accept.
 */
import { isReference, type Attributes } from '../core/values.js';
import type { CsObject, MvObject, Store } from '../store/types.js';
import { csLabel, IDENTIFYING, mvLabel } from './names.js';
import type { SecretAttributes } from './secrets.js';

/** What names an object: where a match ranks first. */
const NAMING = new Set(['id', 'anchor', 'name', ...IDENTIFYING]);

/** Candidates read per search statement. */
const PAGE = 1000;

/** One identity found: a metaverse object with the connector-space objects linked to it, or one unlinked object. */
export interface Found {
  metaverse: { id: string; objectType: string; name: string; deleted: boolean } | null;
  objects: {
    connector: string;
    objectType: string;
    csId: number;
    anchor: string | null;
    /** what the connector names it by (a DN; else the anchor) */
    object: string | null;
    /** the name a person knows it by */
    name: string;
    /** false: not (or no longer) in its system, or not created yet */
    present: boolean;
  }[];
  /** where the text was found: "metaverse displayName", "hr email", "directory anchor" */
  matched: string[];
}

export interface FindOptions {
  /**
   * 'contains': anchors, names and every value (secrets aside) that contain the text; 'name': anchors, names,
   * metaverse ids and identifying attributes (userName, email, displayName...) equal to it, ignoring case.
   */
  mode: 'contains' | 'name';
  /** at most this many identities */
  limit: number;
}

export async function findObjects(
  store: Store,
  secrets: SecretAttributes,
  text: string,
  options: FindOptions,
): Promise<{ found: Found[]; more: boolean }> {
  const needle = text.toLowerCase();
  const matches = (value: string) => (options.mode === 'name' ? value.toLowerCase() === needle : value.toLowerCase().includes(needle));
  const searched = (attributes: Attributes, isSecret: (a: string) => boolean): string[] => {
    const out: string[] = [];
    for (const [attr, values] of Object.entries(attributes)) {
      if (isSecret(attr) || (options.mode === 'name' && !IDENTIFYING.includes(attr))) continue;
      if (values.some((v) => (typeof v === 'string' || typeof v === 'number') && !isReference(v) && matches(String(v)))) out.push(attr);
    }
    return out;
  };

  // identity key ("mv:<id>" or "cs:<id>") → where it matched, in the order found
  const hits = new Map<string, string[]>();
  // Read on past the limit, so that objects found by a name rank before those found by another value.
  const full = () => hits.size > options.limit * 10;
  const hit = (key: string, where: string) => {
    const list = hits.get(key);
    if (list) list.push(where);
    else hits.set(key, [where]);
  };

  for (let after = ''; !full(); ) {
    const page = await store.searchMv(text, after, PAGE);
    for (const mv of page) {
      const where = searched(mv.attributes, (a) => secrets.inMetaverse(a));
      if (matches(mv.id)) where.unshift('id');
      for (const w of where) hit(`mv:${mv.id}`, `metaverse ${w}`);
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.id;
  }
  for (let after = 0; !full(); ) {
    const page = await store.searchCs(text, after, PAGE);
    for (const cs of page) {
      const where = searched(cs.attributes, (a) => secrets.inConnector(cs.connector, cs.objectType, a));
      if (cs.name !== null && cs.name !== cs.anchor && matches(cs.name)) where.unshift('name');
      if (cs.anchor !== null && matches(cs.anchor)) where.unshift('anchor');
      for (const w of where) hit(cs.mvId ? `mv:${cs.mvId}` : `cs:${cs.id}`, `${cs.connector} ${w}`);
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.id;
  }

  const byName = (where: string[]) => where.some((w) => NAMING.has(w.slice(w.lastIndexOf(' ') + 1)));
  const ranked = [...hits.keys()].sort((a, b) => Number(byName(hits.get(b)!)) - Number(byName(hits.get(a)!)));
  const keys = ranked.slice(0, options.limit);
  const mvIds = keys.filter((k) => k.startsWith('mv:')).map((k) => k.slice(3));
  const mvs = mvIds.length > 0 ? await store.mvByIds(mvIds) : new Map<string, MvObject>();
  const linked = new Map<string, CsObject[]>();
  for (const cs of mvIds.length > 0 ? await store.csByMv(mvIds) : []) {
    const list = linked.get(cs.mvId!) ?? [];
    linked.set(cs.mvId!, list);
    list.push(cs);
  }
  const unlinked = new Map((await store.csByIds(keys.filter((k) => k.startsWith('cs:')).map((k) => Number(k.slice(3))))).map((cs) => [cs.id, cs]));

  const found: Found[] = [];
  for (const key of keys) {
    const id = key.slice(3);
    const mv = key.startsWith('mv:') ? mvs.get(id) : undefined;
    const objects = key.startsWith('mv:') ? (linked.get(id) ?? []) : [unlinked.get(Number(id))].filter((o) => o !== undefined);
    found.push({
      metaverse: mv ? { id: mv.id, objectType: mv.objectType, name: mvLabel(mv), deleted: mv.deleted } : null,
      objects: objects.map((cs) => ({
        connector: cs.connector,
        objectType: cs.objectType,
        csId: cs.id,
        anchor: cs.anchor,
        object: cs.name ?? cs.anchor,
        name: csLabel(cs),
        present: cs.present,
      })),
      matched: [...new Set(hits.get(key))],
    });
  }
  return { found, more: hits.size > options.limit };
}
