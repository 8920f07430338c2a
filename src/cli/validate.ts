/**
 * `idsync validate`: every problem of the config in one pass, each with file:line:column and what was
 * expected, then the attributes the rules name against the connectors' schemas (config/attributes.ts). What
 * could not be checked (a server out of reach, --offline, a CSV not there yet) is a notice: said, not failed.
 */
import { checkAttributes } from '../config/attributes.js';
import { inspectConfig } from '../config/load.js';
import { type ConfigProblem, formatProblem } from '../core/errors.js';
import { ExitCode } from './exit-codes.js';

/** the longest wait for one connector's schema (they are read at once) */
const SCHEMA_TIMEOUT_MS = 5000;

interface Io {
  out(text: string): void;
  err(text: string): void;
}

export async function validate(file: string, options: { json?: boolean; offline?: boolean }, io: Io): Promise<number> {
  const offline = options.offline ?? false;
  // the healthy parts of a config with problems are checked too: one pass finds everything
  const { config, problems } = inspectConfig(file);
  const notices: ConfigProblem[] = [];
  if (config) {
    // Offline, the config is judged without the environment it runs in: its secrets are not there either.
    for (const c of config.connectors.values()) {
      for (const p of c.unresolvedSecrets) (offline ? notices : problems).push(offline ? { ...p, message: `${p.message} (not needed offline; run, plan and apply need it)` } : p);
    }
    // the secrets of notifications: and serve.metrics.token: only `idsync serve` needs them
    for (const p of config.opsSecrets ?? []) (offline ? notices : problems).push(offline ? { ...p, message: `${p.message} (not needed offline; serve needs it)` } : p);
    const attributes = await checkAttributes(config, { offline, timeoutMs: SCHEMA_TIMEOUT_MS });
    problems.push(...attributes.problems);
    notices.push(...attributes.notices);
  }
  const valid = problems.length === 0;
  if (options.json) {
    io.out(JSON.stringify({ valid, problems, notices }));
  } else {
    if (valid && config) {
      io.out(`${config.file}: valid (${config.connectors.size} connectors, ${config.inbound.length + config.outbound.length} rules)`);
    } else {
      io.err(`Configuration error${problems.length > 1 ? `s (${problems.length})` : ''}:`);
      for (const p of problems) io.err(`  ${formatProblem(p)}`);
    }
    if (notices.length > 0) {
      io.err(`Not checked or worth a look (${notices.length}):`);
      for (const n of notices) io.err(`  ${formatProblem(n)}`);
    }
  }
  return valid ? ExitCode.ok : ExitCode.config;
}
