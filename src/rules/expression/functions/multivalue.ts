/** Functions over multi-valued attributes: Join, Split. */
import type { Value } from '../../../core/values.js';
import type { FunctionSpec } from '../compile.js';
import { type EvalContext, mapText, NULL, toText } from '../coerce.js';
import { textArg } from './helpers.js';

export const multiValueFunctions: FunctionSpec[] = [
  {
    name: 'Join',
    minArgs: 2,
    maxArgs: null,
    build(site) {
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
    maxArgs: 2,
    build(site) {
      const source = site.args[0]!.evaluate;
      const delimiter = textArg(site, 1);
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
        return out;
      };
    },
  },
];
