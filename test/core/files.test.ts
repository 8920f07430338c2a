/**
 * idsync's state files are private to the user it runs as: state.db, tokens.db and the built-in directory,
 * their WAL and shared-memory files, and a state folder idsync creates. Created with a permissive umask, so
 * the modes come from idsync, not from the environment.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { preparePrivateFile } from '../../src/core/files.js';
import { Directory } from '../../src/directory/index.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { TokenStore } from '../../src/store/tokens.js';

const posix = process.platform !== 'win32';
let dir: string;
let umask: number;

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

beforeAll(() => {
  umask = process.umask(0o022);
});
afterAll(() => {
  process.umask(umask);
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-files-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe.runIf(posix)('state files are created 0600', () => {
  it('state.db, with its WAL and shared memory, in a new 0700 folder', async () => {
    const state = join(dir, '.idsync');
    const store = new SqliteStore(join(state, 'state.db'));
    await store.setMeta('x', 'y');
    expect(mode(state)).toBe(0o700);
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) {
      if (existsSync(join(state, f))) expect(mode(join(state, f)), f).toBe(0o600);
    }
    expect(existsSync(join(state, 'state.db-wal'))).toBe(true);
    await store.close();
  });

  it('tokens.db', async () => {
    const tokens = TokenStore.file(join(dir, '.idsync', 'tokens.db'));
    await tokens.create('t');
    expect(mode(join(dir, '.idsync', 'tokens.db'))).toBe(0o600);
    await tokens.close();
  });

  it('the built-in directory', () => {
    const directory = new Directory(join(dir, 'directory.db'));
    directory.create('user', { userName: ['a'] });
    expect(mode(join(dir, 'directory.db'))).toBe(0o600);
    expect(mode(join(dir, 'directory.db-wal'))).toBe(0o600);
    directory.close();
  });

  it('a state folder loosened to 0755 is made 0700 again when the state or the tokens are opened', async () => {
    const state = join(dir, '.idsync');
    const store = new SqliteStore(join(state, 'state.db'));
    await store.close();
    chmodSync(state, 0o755);
    const reopened = new SqliteStore(join(state, 'state.db'));
    expect(mode(state)).toBe(0o700);
    await reopened.close();
    chmodSync(state, 0o755);
    await TokenStore.file(join(state, 'tokens.db')).close();
    expect(mode(state)).toBe(0o700);
  });

  it('a folder the built-in directory is configured into keeps its mode: it may be the administrator\'s', () => {
    const data = join(dir, 'data');
    const directory = new Directory(join(data, 'directory.db'));
    directory.close();
    chmodSync(data, 0o755);
    new Directory(join(data, 'directory.db')).close();
    expect(mode(data)).toBe(0o755);
    expect(mode(join(data, 'directory.db'))).toBe(0o600);
  });

  it('an existing state file readable by others is made private, its content kept', () => {
    const path = join(dir, 'old.db');
    writeFileSync(path, 'content');
    chmodSync(path, 0o644);
    preparePrivateFile(path);
    expect(mode(path)).toBe(0o600);
    expect(statSync(path).size).toBe(7);
  });
});
