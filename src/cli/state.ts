/** `idsync state migrate`: moves the state to PostgreSQL (or to a SQLite file), verified, and says how to use it. */
import type { LoadedConfig } from '../config/model.js';
import { migrateState } from '../store/index.js';

export async function stateMigrate(config: LoadedConfig, to: string, options: { force?: boolean; json?: boolean }, out: (text: string) => void): Promise<void> {
  const report = await migrateState(config, to, { force: options.force ?? false });
  if (options.json) {
    out(JSON.stringify(report));
    return;
  }
  const width = Math.max(...report.tables.map((t) => t.table.length));
  out(`Copied the state from ${report.from} to ${report.to} in ${(report.durationMs / 1000).toFixed(1)} s, verified table by table:`);
  for (const t of report.tables) out(`  ${t.table.padEnd(width)}  ${t.rows.toLocaleString('en').padStart(9)} rows  sha256 ${t.sha256.slice(0, 16)}…`);
  out(
    /^postgres(ql)?:/.test(to)
      ? 'To use it, set state.url in idsync.yaml to this URL (a password from the environment or a file, docs/configuration.md); the SQLite state stays as it was.'
      : `To use it, remove state.url from idsync.yaml and put the file at ${config.stateDir}/state.db (and tokens.db, agents.db, accounts.db beside it there).`,
  );
}
