/**
 * The built-in directory's writer thread: large export batches are written by a worker thread with its own
 * connection to the file, so the engine's thread records the previous batch meanwhile (engine/export.ts,
 * Pipeline). SQLite serialises writers across connections; the engine sends one batch at a time.
 */
import { Worker } from 'node:worker_threads';
import type { ExportChange } from '../contract.js';
import type { BatchOutcome } from './write.js';

/** What the thread is asked (writer-thread.ts): open the file once, then write batches. */
export type WriterRequest = { id: number; changes: ExportChange[] };
export type WriterReply = { id: number; outcome: BatchOutcome };
export interface WriterInit {
  path: string;
  cacheKb: number;
}

export class DirectoryWriter {
  private readonly worker: Worker;
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (o: BatchOutcome) => void; reject: (e: Error) => void }>();
  private failed: Error | undefined;

  constructor(path: string, cacheKb: number) {
    const init: WriterInit = { path, cacheKb };
    this.worker = startThread(init);
    // Idle, the thread does not keep the process alive (an embedding program that forgets close() can still
    // exit); while a batch is under way it does, so the process waits for the answer.
    this.worker.unref();
    this.worker.on('message', (reply: WriterReply) => this.settle(reply));
    this.worker.on('error', (err) => this.fail(new Error(`the directory writer thread failed: ${err.message}`, { cause: err })));
    this.worker.on('exit', (code) => this.fail(new Error(`the directory writer thread stopped (exit code ${code})`)));
  }

  write(changes: ExportChange[]): Promise<BatchOutcome> {
    if (this.failed) return Promise.reject(this.failed);
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, changes } satisfies WriterRequest);
    });
  }

  async close(): Promise<void> {
    this.failed ??= new Error('the directory writer is closed');
    await this.worker.terminate();
  }

  private settle(reply: WriterReply): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker.unref();
    waiter.resolve(reply.outcome);
  }

  /** A thread that died takes its unanswered batches with it: each is retried by the engine (in-flight). */
  private fail(err: Error): void {
    this.failed ??= err;
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
  }
}

function startThread(init: WriterInit): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./writer-thread.js', here), { workerData: init });
  // Running from the TypeScript sources (tests, tsx): the thread registers the same loader first.
  const entry = JSON.stringify(new URL('./writer-thread.ts', here).href);
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${entry}); })`;
  return new Worker(boot, { eval: true, workerData: init });
}
