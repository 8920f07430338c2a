/** Functions over multi-valued attributes: Join, Split, Count, Item, Contains, RemoveDuplicates. */
import { isReference, type Value, valueKey } from '../../../core/values.js';
import type { CallSite, FunctionSpec } from '../spec.js';
import { badValue, type EvalContext, type Evaluator, mapText, NULL, toText } from '../coerce.js';
import { enumArg, integerArg, textArg } from './helpers.js';

/**
 * Join has two documented shapes: Entra's Join(separator, source1, source2, …) and Connect sync's
 * Join(attribute[, delimiter]). Connect's is taken for one argument, or for two when the first is not a
 * string literal and the second is: Join([proxyAddresses], ","). Everything else is Entra's.
 */
function isConnectJoin(site: CallSite): boolean {
  if (site.args.length === 1) return true;
  if (site.args.length !== 2) return false;
  return site.args[0]!.node.kind !== 'string' && site.args[1]!.node.kind === 'string';
}

function connectJoin(site: CallSite): Evaluator {
  const source = site.args[0]!.evaluate;
  const delimiter = site.args.length === 2 ? textArg(site, 1) : () => ' ';
  return (ctx) => {
    const values = source(ctx);
    if (values.length === 0) return NULL;
    return [values.map((v) => toText(v, 'Join')).join(delimiter(ctx))];
  };
}

function item(name: string, orNull: boolean): FunctionSpec {
  return {
    name,
    minArgs: 2,
    maxArgs: 2,
    build(site) {
      const source = site.args[0]!.evaluate;
      const index = integerArg(site, 1, 'index');
      // 1-based, as Microsoft documents ("Item([proxyAddresses], 1) returns the first item").
      return (ctx) => {
        const values = source(ctx);
        const i = index(ctx);
        const v = values[i - 1];
        if (v === undefined || i < 1) {
          if (orNull) return NULL;
          throw badValue(name, `index ${i} is out of bounds (the attribute has ${values.length} values)`);
        }
        return [v];
      };
    },
  };
}

export const multiValueFunctions: FunctionSpec[] = [
  {
    name: 'Join',
    minArgs: 1,
    maxArgs: null,
    build(site) {
      if (isConnectJoin(site)) return connectJoin(site);
      const separator = textArg(site, 0);
      const sources = site.args.slice(1).map((a) => a.evaluate);
      // Every value of every source, in order; null and "" are skipped, as Microsoft's example
      // Join(", ", "", [surname], [givenName]) → "Doe, John" shows.
      const collect = (ctx: EvalContext): string[] => {
        const parts: string[] = [];
        for (const source of sources) {
          for (const v of source(ctx)) {
            const text = toText(v, 'Join');
            if (text !== '') parts.push(text);
          }
        }
        return parts;
      };
      if (sources.length === 2) {
        // The common case, Join(" ", [givenName], [sn]), without building an array.
        const [first, second] = sources as [(typeof sources)[0], (typeof sources)[0]];
        return (ctx) => {
          const a = first(ctx);
          const b = second(ctx);
          if (a.length <= 1 && b.length <= 1) {
            const x = a.length === 0 ? '' : toText(a[0]!, 'Join');
            const y = b.length === 0 ? '' : toText(b[0]!, 'Join');
            if (x === '') return y === '' ? NULL : [y];
            return y === '' ? [x] : [x + separator(ctx) + y];
          }
          const parts = collect(ctx);
          return parts.length === 0 ? NULL : [parts.join(separator(ctx))];
        };
      }
      return (ctx) => {
        const parts = collect(ctx);
        return parts.length === 0 ? NULL : [parts.join(separator(ctx))];
      };
    },
  },
  {
    name: 'Split',
    minArgs: 2,
    maxArgs: 3,
    build(site) {
      const source = site.args[0]!.evaluate;
      const delimiter = textArg(site, 1);
      // Connect sync's third argument: at most this many values (the first ones).
      const limit = site.args.length === 3 ? integerArg(site, 2, 'limit') : () => Number.POSITIVE_INFINITY;
      // Parts are trimmed and empty ones dropped: Microsoft's example splits "PermissionSetOne, PermissionSetTwo"
      // on "," into "PermissionSetOne" and "PermissionSetTwo", without the space.
      return (ctx) => {
        const values = source(ctx);
        if (values.length === 0) return NULL;
        const d = delimiter(ctx);
        const out: Value[] = [];
        for (const text of mapText(values, 'Split', (s) => s) as string[]) {
          const parts = d === '' ? [text] : text.split(d);
          for (const part of parts) {
            const trimmed = part.trim();
            if (trimmed !== '') out.push(trimmed);
          }
        }
        const max = limit(ctx);
        return out.length > max ? out.slice(0, Math.max(0, max)) : out;
      };
    },
  },
  {
    name: 'Count',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) => [source(ctx).length];
    },
  },
  item('Item', false),
  item('ItemOrNull', true),
  {
    name: 'RemoveDuplicates',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      // Exact comparison: "SMTP:a@x" and "smtp:a@x" are different proxy addresses on purpose.
      return (ctx) => {
        const values = source(ctx);
        if (values.length < 2) return values;
        const seen = new Set<string>();
        return values.filter((v) => {
          const key = valueKey(v);
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        });
      };
    },
  },
  {
    name: 'Contains',
    minArgs: 2,
    maxArgs: 3,
    build(site) {
      const source = site.args[0]!.evaluate;
      const search = textArg(site, 1);
      const insensitive =
        enumArg(site, 2, 'Casetype', ['CaseSensitive', 'CaseInsensitive']) === 'CaseInsensitive';
      // The 1-based index of the first value containing the text (a reference must equal it); 0 when none does.
      return (ctx) => {
        const values = source(ctx);
        let wanted = search(ctx);
        if (insensitive) wanted = wanted.toLowerCase();
        for (let i = 0; i < values.length; i++) {
          const v = values[i]!;
          if (isReference(v)) {
            const ref = insensitive ? v.ref.toLowerCase() : v.ref;
            if (ref === wanted) return [i + 1];
            continue;
          }
          const text = insensitive ? toText(v, 'Contains').toLowerCase() : toText(v, 'Contains');
          if (text.includes(wanted)) return [i + 1];
        }
        return [0];
      };
    },
  },
];
