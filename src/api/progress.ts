/**
 * The engine's progress as events for GET /api/v1/progress (Server-Sent Events): the engine reports to a
 * Progress (engine/progress.ts); this one passes each report on to the terminal line as before and to every
 * listener, with the connector and phase read from the label, the rate and the time left.
 */
import { EventEmitter } from 'node:events';
import { type Progress, type RunEvent, silentProgress } from '../engine/progress.js';

export interface ProgressEvent {
  runId: number | null;
  /** the engine's label: "hr full import", "directory export" */
  label: string;
  connector: string | null;
  phase: string;
  count: number;
  total: number | null;
  /** objects per second since the phase began */
  rate: number;
  etaSeconds: number | null;
  at: string;
}

/** At most this many progress events a second reach listeners (the engine reports every page). */
const MIN_INTERVAL_MS = 250;

export class ProgressFeed implements Progress {
  private readonly emitter = new EventEmitter();
  private label = '';
  private started = 0;
  private lastSent = 0;
  private runId: number | null = null;
  /** the last progress event of the running phase, for a listener that connects meanwhile */
  last: ProgressEvent | null = null;
  /** the running cycle, or null */
  running: RunEvent | null = null;

  constructor(
    private readonly inner: Progress = silentProgress,
    private readonly connectors: readonly string[] = [],
  ) {
    this.emitter.setMaxListeners(0);
  }

  update(label: string, done: number, total?: number): void {
    this.inner.update(label, done, total);
    const now = Date.now();
    if (label !== this.label) {
      this.label = label;
      this.started = now;
      this.lastSent = 0;
    }
    if (now - this.lastSent < MIN_INTERVAL_MS) return;
    this.lastSent = now;
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    const rate = done / seconds;
    const known = total !== undefined && total > 0 && done <= total;
    const connector = this.connectors.find((c) => label === c || label.startsWith(`${c} `)) ?? null;
    const event: ProgressEvent = {
      runId: this.runId,
      label,
      connector,
      phase: connector ? label.slice(connector.length + 1) : label,
      count: done,
      total: known ? total : null,
      rate: Math.round(rate * 10) / 10,
      etaSeconds: known && done > 0 && seconds >= 1 ? Math.ceil((total - done) / rate) : null,
      at: new Date(now).toISOString(),
    };
    this.last = event;
    this.emitter.emit('progress', event);
  }

  done(): void {
    this.inner.done();
    this.label = '';
    this.last = null;
  }

  run(event: RunEvent): void {
    this.inner.run?.(event);
    this.runId = event.state === 'started' ? event.runId : null;
    this.running = event.state === 'started' ? event : null;
    if (event.state === 'finished') this.last = null;
    this.emitter.emit('run', event);
  }

  on(listener: { progress(e: ProgressEvent): void; run(e: RunEvent): void }): () => void {
    this.emitter.on('progress', listener.progress);
    this.emitter.on('run', listener.run);
    return () => {
      this.emitter.off('progress', listener.progress);
      this.emitter.off('run', listener.run);
    };
  }
}
