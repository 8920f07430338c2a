/**
 * The plan of a proposed config, computed without touching the state or any target (the admin API's
 * `POST /config/validate`): the running engine copies its state into a temporary SQLite file (in its queue
 * of operations, so no cycle writes meanwhile), an engine of the proposed config runs a plan cycle on the
 * copy (its connectors really read their systems; a plan exports nothing), and the copy is deleted. One at a
 * time per process, and bounded by a timeout: a plan still running then has its connectors closed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadedConfig } from '../config/model.js';
import { IdsyncError } from '../core/errors.js';
import { type CycleReport, Engine } from '../engine/engine.js';
import type { Store } from '../store/types.js';
import type { PreviewCode } from './errors.js';

/** how long a plan of a proposed config may take by default */
export const PREVIEW_TIMEOUT_MS = 120_000;

export interface PreviewOptions {
  timeoutMs?: number;
}

/** one plan at a time in this process: each copies the whole state and reads every connector */
let running = false;

export function previewRunning(): boolean {
  return running;
}

/**
 * The plan `proposed` would make against a copy of `live`'s state. Throws PREVIEW_BUSY while another runs,
 * PREVIEW_TIMEOUT when it takes longer than the timeout; a connector that cannot be read is a failed phase of
 * the report, as in any plan.
 */
export async function previewPlan(live: Engine, proposed: LoadedConfig, options: PreviewOptions = {}): Promise<CycleReport> {
  if (running) throw new IdsyncError('PREVIEW_BUSY' satisfies PreviewCode, 'another proposed config is being planned: one at a time, try again when it is done');
  running = true;
  const timeoutMs = options.timeoutMs ?? PREVIEW_TIMEOUT_MS;
  const dir = mkdtempSync(join(tmpdir(), 'idsync-preview-'));
  let copy: Store | undefined;
  let engine: Engine | undefined;
  let settled: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const fail = (code: PreviewCode, message: string) => new IdsyncError(code, message);
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          stopped = true;
          reject(fail('PREVIEW_TIMEOUT', `the plan of the proposed config took longer than ${Math.round(timeoutMs / 1000)} s and was stopped; nothing was saved`));
        },
        timeoutMs,
      );
    });
    const work = (async () => {
      copy = await live.snapshot(join(dir, 'state.db'));
      if (stopped) throw fail('PREVIEW_TIMEOUT', 'stopped');
      // staging or not, a plan exports nothing; the copy's own run records it as a plan
      engine = await Engine.open(proposed, { store: copy, command: 'idsync config validate (plan of a proposed config)' });
      if (stopped) throw fail('PREVIEW_TIMEOUT', 'stopped');
      return engine.cycle({ mode: 'plan' });
    })();
    settled = work.catch(() => {});
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    // closing the connectors ends a read still running (a timeout); the copy is closed with the engine
    const close = async () => {
      if (engine) await engine.close().catch(() => {});
      else if (copy) await copy.close().catch(() => {});
    };
    await close();
    void settled.then(async () => {
      await close();
      rmSync(dir, { recursive: true, force: true });
      running = false;
    });
  }
}
