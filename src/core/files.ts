/**
 * idsync's own state files (state.db, tokens.db, the built-in directory) hold connector spaces, token hashes
 * and passwords in flight: only the user idsync runs as may read them. SQLite gives its -wal and -shm files
 * the mode of the database file, so making the database 0600 covers them too.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/**
 * Makes sure `path` exists as a file only its owner can read, before SQLite opens it: a new file (and a new
 * folder for it) is created private; an existing one readable by others is made private. `stateFolder`: the
 * folder is idsync's state folder (state.db, tokens.db), made private again if someone loosened it; a folder
 * the configuration points a file into (the built-in directory's `path`) may be the administrator's own and
 * keeps its mode.
 */
export function preparePrivateFile(path: string, options: { stateFolder?: boolean } = {}): void {
  if (path === ':memory:' || path === '') return;
  const folder = dirname(path);
  mkdirSync(folder, { recursive: true, mode: DIR_MODE });
  // 'a' creates the file with FILE_MODE (the umask can only take bits away) and never truncates one.
  closeSync(openSync(path, 'a', FILE_MODE));
  if (process.platform === 'win32') return;
  makePrivate(path);
  // only a folder of the user idsync runs as: chmod on another's would fail, and it is not idsync's to change
  if (options.stateFolder && statSync(folder).uid === process.getuid?.()) makePrivate(folder);
}

function makePrivate(path: string): void {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) chmodSync(path, mode & 0o700);
}
