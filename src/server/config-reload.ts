/**
 * `idsync serve` reloads idsync.yaml when it changes (the file watched, changes debounced) and on SIGHUP.
 * The new file is loaded and validated first, as at start: an invalid one is refused, each problem logged at
 * its file:line:column, and the running config stays. A valid one goes to the engine between cycles
 * (Engine.reload: changed connectors reopened, the next cycle a full sync when the rules changed) and then to
 * the connected agents (AgentHub.reconfigure). What the running server was built from (serve:, state:,
 * notifications:, schedule:) is not rebuilt: a change there is logged as waiting for a restart.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { AgentHub } from '../agent/hub/hub.js';
import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/model.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import { redact } from '../core/redact.js';
import type { Engine } from '../engine/engine.js';

export interface ConfigReloadOptions {
  engine: Engine;
  hub: AgentHub;
  log: { info(msg: string): void; warn(msg: string): void };
  /** how long the file must be quiet before it is read (an editor writes in several steps); default 500 ms */
  debounceMs?: number;
  /** reload on SIGHUP too (default true) */
  signals?: boolean;
}

export interface ConfigReloader {
  /**
   * Reads and applies the file now; resolves true when a new config is in force. Unless `force` (SIGHUP),
   * a text the same as the one last read is not applied again.
   */
  reload(reason: string, force?: boolean): Promise<boolean>;
  close(): void;
}

export function watchConfig(options: ConfigReloadOptions): ConfigReloader {
  const { engine, hub, log } = options;
  const file = engine.config.file;
  let applied = readText(file);
  let timer: NodeJS.Timeout | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  const reload = (reason: string, force = false): Promise<boolean> => {
    const run = queue.then(async () => {
      const text = readText(file);
      if (text === undefined || (text === applied && !force)) return false;
      let config: LoadedConfig;
      try {
        config = loadConfig(file);
      } catch (err) {
        const problems = err instanceof ConfigError ? err.message.split('\n') : [redact(errorMessage(err))];
        log.warn(`${file} changed (${reason}) but is not valid; the running configuration stays:\n  ${problems.join('\n  ')}`);
        applied = text; // the same text again is the same refusal; a corrected one is read
        return false;
      }
      const waiting = restartOnly(engine.config, config);
      await engine.reload(config);
      applied = text;
      await hub.reconfigure();
      log.info(`${file} reloaded (${reason}): ${config.connectors.size} connectors, ${config.inbound.length + config.outbound.length} rules; connected agents sent their configuration`);
      if (waiting.length > 0) log.warn(`${file}: ${waiting.join(', ')} changed; that takes effect when idsync serve restarts`);
      return true;
    });
    queue = run.catch(() => {});
    return run.catch((err: unknown) => {
      log.warn(`${file}: the reload failed (${redact(errorMessage(err))}); the running configuration stays`);
      return false;
    });
  };

  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload('the file changed'), options.debounceMs ?? 500);
    timer.unref();
  };
  // The folder is watched, not the file: editors and config tools replace the file (write a new one, rename
  // it over the old), which a watch on the old file would not see.
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), (_event, name) => {
      if (name === null || name.toString() === basename(file)) changed();
    });
    watcher.on('error', () => {});
    watcher.unref();
  } catch (err) {
    log.warn(`${file} cannot be watched (${errorMessage(err)}): reload it with SIGHUP`);
  }
  // SIGHUP reads the file even when it is as it was (a `${file:}` secret it names may have changed)
  const onHangup = () => void reload('SIGHUP', true);
  if (options.signals !== false) process.on('SIGHUP', onHangup);

  return {
    reload,
    close() {
      clearTimeout(timer);
      watcher?.close();
      process.off('SIGHUP', onHangup);
    },
  };
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined; // removed for a moment while an editor replaces it: the next event reads it
  }
}

/** The parts of the config the running server was built from, which a reload does not rebuild. */
function restartOnly(running: LoadedConfig, next: LoadedConfig): string[] {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const out: string[] = [];
  if (!same(running.serve, next.serve)) out.push('serve:');
  if (running.stateDir !== next.stateDir || running.stateUrl !== next.stateUrl) out.push('state:');
  if (!same(running.notifications, next.notifications)) out.push('notifications:');
  if (running.scheduleMs !== next.scheduleMs) out.push('schedule:');
  return out;
}
