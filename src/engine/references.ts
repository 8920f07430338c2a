/**
 * References follow objects, not names. A connector space holds a source's references by name (a DN): when an
 * object is renamed or moved, its referrers there still name it by the old name, and Active Directory does not
 * send them again (its DN-valued attributes are links it rewrites in place). The engine rewrites them itself,
 * so that every referrer resolves to the same metaverse object after the rename, whenever it is next synced.
 */
import type { EngineContext } from './context.js';

/**
 * After `connector`'s objects were renamed (old name → new name): the referrers that named them by the old
 * name name them by the new one, and the objects that already named a new name (a reference that pointed at
 * nothing until now) are synced again. Called in the transaction that records the renames.
 */
export async function followRenames(ctx: EngineContext, connector: string, renamed: ReadonlyMap<string, string>): Promise<void> {
  if (renamed.size === 0) return;
  await ctx.store.renameReferences(referrersOf(ctx, connector), renamed);
  const waiting = [...(await ctx.store.csReferencing([...renamed.values()])).values()].flat();
  if (waiting.length > 0) await ctx.store.markCsDirty(waiting);
}

/** The connectors whose references name objects of `connector`: itself, and those whose flows say referencesIn it. */
function referrersOf(ctx: EngineContext, connector: string): string[] {
  const out = new Set([connector]);
  for (const rule of ctx.config.inbound) if (rule.flows.some((f) => f.referencesIn === connector)) out.add(rule.connector);
  return [...out];
}
