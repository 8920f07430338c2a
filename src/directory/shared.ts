import { resolve } from 'node:path';
import { Directory, type DirectoryOptions } from './directory.js';

/**
 * One Directory per file in a process. The built-in connector and the SCIM server may both use the file:
 * sharing the instance lets the connector's watch() hear the server's writes at once, and keeps a single
 * writer per process (SQLite allows one at a time anyway).
 */
const open = new Map<string, { directory: Directory; users: number }>();

export interface SharedDirectory {
  directory: Directory;
  /** closes the file when the last user releases it; a second call does nothing */
  release(): void;
}

/** `options` apply when this call opens the file; a caller that finds it open shares it as it is. */
export function openSharedDirectory(path: string, options: DirectoryOptions = {}): SharedDirectory {
  // ':memory:' is private to each caller: sharing it would make one hidden process-wide database
  if (path === ':memory:') {
    const directory = new Directory(path, options);
    return { directory, release: once(() => directory.close()) };
  }
  const key = resolve(path);
  let entry = open.get(key);
  if (!entry) {
    entry = { directory: new Directory(key, options), users: 0 };
    open.set(key, entry);
  }
  entry.users++;
  const held = entry;
  return {
    directory: held.directory,
    release: once(() => {
      held.users--;
      if (held.users === 0) {
        open.delete(key);
        held.directory.close();
      }
    }),
  };
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
