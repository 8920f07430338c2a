/**
 * Draining dirty objects: page through what is marked, handle each page in one transaction, and go round
 * again while handling marked more objects behind the cursor (referrers of a changed object), a bounded
 * number of times.
 */
import type { EngineContext } from './context.js';
import { flushLog } from './context.js';

export async function drainDirty<Item, Key>(
  ctx: EngineContext,
  options: {
    label: string;
    passes: number;
    start: Key;
    page: (after: Key) => Promise<Item[]>;
    keyOf: (item: Item) => Key;
    /** handles one page inside its transaction, including clearing the items' dirty marks */
    handle: (items: Item[]) => Promise<void>;
  },
): Promise<void> {
  let done = 0;
  for (let pass = 0; pass < options.passes; pass++) {
    let after = options.start;
    let any = false;
    for (;;) {
      const items = await options.page(after);
      if (items.length === 0) break;
      any = true;
      await ctx.store.transaction(async () => {
        await options.handle(items);
        await flushLog(ctx);
      });
      after = options.keyOf(items[items.length - 1]!);
      done += items.length;
      ctx.progress.update(options.label, done);
    }
    if (!any) break;
  }
  ctx.progress.done();
}
