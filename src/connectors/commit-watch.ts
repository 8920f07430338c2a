/**
 * watch() for a connector over an SQLite file that others write too (the built-in directory, the HR push
 * records): this process's commits arrive at once through `onChange`, another process's are noticed by polling
 * the file's data version.
 */

/** How often another process's commits are looked for (this process's arrive at once). */
const POLL_MS = 1000;

export interface CommitSource {
  /** calls the listener after each commit this process makes; returns the unsubscribe function */
  onChange(listener: () => void): () => void;
  /** changes whenever any connection commits to the file (SQLite's PRAGMA data_version); throws once closed */
  dataVersion(): number;
}

/**
 * Yields once per change until `signal` aborts. At most one notification is pending: changes that arrive while
 * the engine is busy fold into one wake-up.
 */
export async function* watchCommits(source: CommitSource, signal: AbortSignal): AsyncIterable<void> {
  let pending = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    pending = true;
    wake?.();
  };
  const unsubscribe = source.onChange(notify);
  let version = source.dataVersion();
  const poll = setInterval(() => {
    let now: number;
    try {
      now = source.dataVersion();
    } catch {
      // the file was closed under a watcher: stop polling rather than throw from a timer
      clearInterval(poll);
      return;
    }
    if (now !== version) {
      version = now;
      notify();
    }
  }, POLL_MS);
  poll.unref();
  signal.addEventListener('abort', notify, { once: true });
  try {
    while (!signal.aborted) {
      if (!pending) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      if (signal.aborted) return;
      pending = false;
      yield;
    }
  } finally {
    clearInterval(poll);
    unsubscribe();
    signal.removeEventListener('abort', notify);
  }
}
