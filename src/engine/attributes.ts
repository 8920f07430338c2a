/**
 * Attribute plumbing shared by the sync phases: how rules read an object, how two states are compared,
 * and how references are translated between a system's names and metaverse ids.
 */
import type { AttributeChange } from '../connectors/contract.js';
import {
  type Attributes,
  displayValue,
  isReference,
  type Reference,
  sameValues,
  type Value,
  valuesMissingFrom,
} from '../core/values.js';
import type { FlowInput } from '../rules/types.js';

/** Rules read attribute names without regard to case, as LDAP and SCIM do. */
export function flowInput(attributes: Attributes, memberOf?: (group: string) => boolean): FlowInput {
  let lower: Map<string, Value[]> | undefined;
  return {
    get(name) {
      const exact = attributes[name];
      if (exact) return exact;
      if (!lower) {
        lower = new Map();
        for (const [k, v] of Object.entries(attributes)) lower.set(k.toLowerCase(), v);
      }
      return lower.get(name.toLowerCase()) ?? [];
    },
    ...(memberOf ? { isMemberOf: memberOf } : {}),
  };
}

/**
 * The changes that turn `current` into `desired`, for the attributes in `desired` only. Multi-valued
 * attributes change value by value (add/remove), so a large group is never rewritten; single values replace.
 */
export function diffAttributes(
  desired: Attributes,
  current: Attributes,
  isMultiValued: (attribute: string) => boolean,
): Record<string, AttributeChange> {
  const changes: Record<string, AttributeChange> = {};
  for (const [attr, want] of Object.entries(desired)) {
    const have = current[attr] ?? [];
    if (sameValues(want, have)) continue;
    if (isMultiValued(attr) && have.length > 0 && want.length > 0) {
      const add = valuesMissingFrom(want, have);
      const remove = valuesMissingFrom(have, want);
      changes[attr] = { ...(add.length ? { add } : {}), ...(remove.length ? { remove } : {}) };
    } else {
      changes[attr] = { replace: want };
    }
  }
  return changes;
}

/** `current` with `changes` applied: what the target holds after it accepted them. */
export function applyChanges(current: Attributes, changes: Record<string, AttributeChange>): Attributes {
  const out: Attributes = { ...current };
  for (const [attr, change] of Object.entries(changes)) {
    let values = change.replace ?? out[attr] ?? [];
    if (change.remove) {
      const gone = new Set(change.remove.map((v) => JSON.stringify(isReference(v) ? v.ref : v)));
      values = values.filter((v) => !gone.has(JSON.stringify(isReference(v) ? v.ref : v)));
    }
    if (change.add) values = [...values, ...valuesMissingFrom(change.add, values)];
    if (values.length > 0) out[attr] = values;
    else delete out[attr];
  }
  return out;
}

/** Maps each reference with `resolve`; references it cannot resolve are dropped and reported. */
export function mapReferences(
  attributes: Attributes,
  resolve: (ref: string) => string | undefined,
): { attributes: Attributes; unresolved: string[] } {
  const out: Attributes = {};
  const unresolved: string[] = [];
  for (const [attr, values] of Object.entries(attributes)) {
    if (!values.some(isReference)) {
      out[attr] = values;
      continue;
    }
    const mapped: Value[] = [];
    for (const v of values) {
      if (!isReference(v)) {
        mapped.push(v);
        continue;
      }
      const target = resolve(v.ref);
      if (target === undefined) unresolved.push(v.ref);
      else mapped.push({ ref: target } satisfies Reference);
    }
    out[attr] = mapped;
  }
  return { attributes: out, unresolved };
}

export function referencesIn(attributes: Attributes): string[] {
  const out: string[] = [];
  for (const values of Object.values(attributes)) for (const v of values) if (isReference(v)) out.push(v.ref);
  return out;
}

/** For the provisioning log and plans: each changed attribute with its old and new values, secrets hidden. */
export function describeChanges(
  before: Attributes,
  after: Attributes,
  attributes: Iterable<string>,
  isSecret: (attribute: string) => boolean,
  show: (v: Value) => string = displayValue,
): { attribute: string; old: string[]; new: string[] }[] {
  const out: { attribute: string; old: string[]; new: string[] }[] = [];
  for (const attr of attributes) {
    const a = before[attr] ?? [];
    const b = after[attr] ?? [];
    if (sameValues(a, b)) continue;
    const render = (vs: Value[]) => (isSecret(attr) ? vs.map(() => '[redacted]') : vs.map(show));
    out.push({ attribute: attr, old: render(a), new: render(b) });
  }
  return out;
}
