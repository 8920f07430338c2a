/**
 * The server's view of the SCIM protocol library (src/scim): the few shapes the service needs, so that the
 * service reads as resource operations and this file is the one place that knows the library's API.
 */
import { compileFilter as compilePredicate, type Filter as FilterAst, indexHint, parseFilter } from '../../scim/filter.js';
import type { ResourceSchema } from '../../scim/schemas.js';
import type { Value } from '../../core/values.js';

/** A filter ready to run: the directory index to start from, if any, and the predicate. */
export interface Filter {
  /** look candidates up with Directory.findBy(attribute, value) instead of scanning */
  hint: { attribute: string; value: Value } | undefined;
  matches(resource: Record<string, unknown>): boolean;
  /** whether the filter reads this top-level attribute (members, groups), which costs extra to produce */
  mentions(attribute: string): boolean;
}

/** SCIM names of indexed attributes → the directory's findBy names; case-exact in SCIM, or folded by the index */
const INDEXED: Record<string, string> = { id: 'id', userName: 'userName', externalId: 'externalId', displayName: 'displayName', 'members.value': 'members' };

export function compileFilter(text: string, schema: ResourceSchema): Filter {
  const ast = parseFilter(text);
  const predicate = compilePredicate(ast, schema);
  const hint = indexHint(ast, Object.keys(INDEXED));
  const mentioned = new Set<string>();
  collect(ast, mentioned);
  return {
    hint: hint && {
      attribute: INDEXED[hint.attribute]!,
      value: INDEXED[hint.attribute] === 'members' ? { ref: String(hint.value) } : hint.attribute === 'userName' || hint.attribute === 'displayName' ? String(hint.value) : hint.value,
    },
    matches: predicate,
    mentions: (attribute) => mentioned.has(attribute.toLowerCase()),
  };
}

function collect(filter: FilterAst, out: Set<string>): void {
  switch (filter.type) {
    case 'and':
    case 'or':
      for (const f of filter.filters) collect(f, out);
      return;
    case 'not':
      return collect(filter.filter, out);
    default:
      out.add(filter.path.attribute.toLowerCase());
  }
}
