/**
 * One identity as the admin API shows it: the metaverse object with every connector-space object linked to
 * it (or one unlinked connector-space object), each with its attributes, secrets redacted. Keys are
 * "mv:<metaverse id>" or "cs:<connector-space id>", as find (find.ts) names what it found.
 */
import { type Attributes, displayValue } from '../core/values.js';
import { IdsyncError } from '../core/errors.js';
import type { CsObject, Store } from '../store/types.js';
import { csLabel, mvLabel } from './names.js';
import { redactAttributes, type SecretAttributes } from './secrets.js';

export interface ObjectView {
  id: string;
  name: string;
  objectType: string;
  metaverse: { id: string; objectType: string; name: string; deleted: boolean; attributes: Record<string, string[]> } | null;
  objects: {
    connector: string;
    objectType: string;
    csId: number;
    anchor: string | null;
    object: string | null;
    name: string;
    present: boolean;
    attributes: Record<string, string[]>;
  }[];
}

export async function describeObject(store: Store, secrets: SecretAttributes, key: string): Promise<ObjectView> {
  const m = /^(mv|cs):(.+)$/.exec(key);
  if (!m) throw new IdsyncError('OBJECT_KEY_INVALID', `"${key}" is not an object id: use mv:<metaverse id> or cs:<number> (as a search returns them)`);
  let linked: CsObject[];
  let metaverse: ObjectView['metaverse'] = null;
  if (m[1] === 'mv') {
    const mv = (await store.mvByIds([m[2]!])).get(m[2]!);
    if (!mv) throw new IdsyncError('OBJECT_UNKNOWN', `no metaverse object ${m[2]}`);
    metaverse = {
      id: mv.id,
      objectType: mv.objectType,
      name: mvLabel(mv),
      deleted: mv.deleted,
      attributes: shown(redactAttributes(mv.attributes, (a) => secrets.inMetaverse(a))),
    };
    linked = await store.csByMv([mv.id]);
  } else {
    const id = Number(m[2]);
    const [cs] = Number.isInteger(id) ? await store.csByIds([id]) : [];
    if (!cs) throw new IdsyncError('OBJECT_UNKNOWN', `no connector-space object ${m[2]}`);
    // an object linked to a metaverse object is shown with it
    if (cs.mvId) return describeObject(store, secrets, `mv:${cs.mvId}`);
    linked = [cs];
  }
  const objects = linked.map((cs) => ({
    connector: cs.connector,
    objectType: cs.objectType,
    csId: cs.id,
    anchor: cs.anchor,
    object: cs.name ?? cs.anchor,
    name: csLabel(cs),
    present: cs.present,
    attributes: shown(redactAttributes(cs.attributes, (a) => secrets.inConnector(cs.connector, cs.objectType, a))),
  }));
  return {
    id: metaverse ? `mv:${metaverse.id}` : `cs:${objects[0]!.csId}`,
    name: metaverse?.name ?? objects[0]!.name,
    objectType: metaverse?.objectType ?? objects[0]!.objectType,
    metaverse,
    objects,
  };
}

/** Values as text, as the log and explain show them (a reference as →its id, binary as its size). */
function shown(attributes: Attributes): Record<string, string[]> {
  return Object.fromEntries(Object.entries(attributes).map(([k, vs]) => [k, vs.map(displayValue)]));
}
