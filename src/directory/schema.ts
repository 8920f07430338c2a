import type Database from 'better-sqlite3';
import { decodeAttributes } from '../core/values.js';
import { lookupKeys, type ObjectType } from './attributes.js';
import { DirectoryError } from './errors.js';

/**
 * Bumped when the tables change; a file from a newer idsync is refused rather than misread, one from an older
 * idsync is migrated when opened (MIGRATIONS).
 * 1: the first tables. 2: displayNameKey, emailKey (case-insensitive look-ups by index, lookupKeys).
 * 3: objects_type_lastModified (SCIM delta readers filter on meta.lastModified).
 */
const SCHEMA_VERSION = 3;

/** SCIM clients that read deltas ask for `meta.lastModified gt "…"`: a range of this index, not a scan */
const LAST_MODIFIED_INDEX = 'CREATE INDEX objects_type_lastModified ON objects (type, lastModified, id);';

const LOOKUP_KEY_INDEXES = `
CREATE INDEX objects_displayNameKey ON objects (displayNameKey) WHERE displayNameKey IS NOT NULL;
CREATE INDEX objects_emailKey ON objects (emailKey) WHERE emailKey IS NOT NULL;
`;

const TABLES = `
CREATE TABLE objects (
  id           TEXT NOT NULL PRIMARY KEY,
  type         TEXT NOT NULL CHECK (type IN ('user', 'group')),
  userName     TEXT COLLATE NOCASE,
  -- userName folded for every script: the unique index is on this, NOCASE alone folds ASCII only
  userNameKey  TEXT,
  displayName  TEXT,
  -- a group's displayName and a user's work email, folded as userNameKey: SCIM compares them ignoring case
  displayNameKey TEXT,
  emailKey     TEXT,
  externalId   TEXT,
  active       INTEGER,
  attributes   TEXT NOT NULL,
  version      INTEGER NOT NULL,
  created      TEXT NOT NULL,
  lastModified TEXT NOT NULL,
  -- sequence number of the last change to the object's own attributes (membership changes are in member_log)
  changeSeq    INTEGER NOT NULL
);
CREATE UNIQUE INDEX objects_userNameKey ON objects (userNameKey) WHERE userNameKey IS NOT NULL;
CREATE INDEX objects_externalId ON objects (externalId) WHERE externalId IS NOT NULL;
-- Groups are looked up and listed by themselves; users by userName and externalId. Indexes limited to groups
-- keep the cost of 100,000 user inserts down (every index is one more B-tree write per row).
CREATE INDEX objects_group_displayName ON objects (displayName) WHERE type = 'group';
CREATE INDEX objects_group_id ON objects (id) WHERE type = 'group';
CREATE INDEX objects_changeSeq ON objects (changeSeq);
${LOOKUP_KEY_INDEXES}
${LAST_MODIFIED_INDEX}

CREATE TABLE members (
  group_id  TEXT NOT NULL,
  member_id TEXT NOT NULL,
  PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
CREATE INDEX members_member ON members (member_id);

-- Membership changes since each group's last attribute change, for delta readers. Entries older than the
-- group's changeSeq are deleted: a reader that far behind gets the whole group anyway.
CREATE TABLE member_log (
  seq       INTEGER NOT NULL PRIMARY KEY,
  group_id  TEXT NOT NULL,
  member_id TEXT NOT NULL,
  added     INTEGER NOT NULL
);
CREATE INDEX member_log_group ON member_log (group_id);

CREATE TABLE tombstones (
  id        TEXT NOT NULL PRIMARY KEY,
  type      TEXT NOT NULL,
  changeSeq INTEGER NOT NULL
);
CREATE INDEX tombstones_changeSeq ON tombstones (changeSeq);

-- The global change sequence shared by objects, member_log and tombstones.
CREATE TABLE sequence (
  one   INTEGER NOT NULL PRIMARY KEY CHECK (one = 1),
  value INTEGER NOT NULL
);
INSERT INTO sequence (one, value) VALUES (1, 0);
`;

export function openSchema(db: Database.Database, path: string, cacheKb = 65_536): void {
  // 16 KB pages for a new file (as the engine's state, src/store/sqlite.ts: fewer WAL frames per bulk commit)
  db.pragma('page_size = 16384');
  if (path !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // a password replaced by its hash (or dropped by a gateway) must not linger in the file's free space
  db.pragma('secure_delete = ON');
  // another process (idsync serve next to idsync run) may hold the write lock for a moment
  db.pragma('busy_timeout = 5000');
  // Savepoints (a group's create, which can fail on a member, is one) keep their undo pages in memory: as
  // temporary files they were 650 MB of writes in a 100,000-object load. They hold one change's pages.
  db.pragma('temp_store = MEMORY');
  // the default 2 MB cache spills a 100,000-object bulk load to the WAL mid-transaction, 10 times slower
  db.pragma(`cache_size = -${Math.max(1024, Math.floor(cacheKb))}`);
  // A checkpoint every 10,000 pages of WAL (40 MB) rather than every 1,000: each one syncs the file, and in a
  // 100,000-object load the writer thread spent 3.7 s of its 7.7 s committing; the export took ~1 s less.
  if (path !== ':memory:') db.pragma('wal_autocheckpoint = 10000');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new DirectoryError(
      'DIRECTORY_SCHEMA_TOO_NEW',
      `${path} has directory schema version ${version}; this idsync knows up to ${SCHEMA_VERSION}`,
    );
  }
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    // a second process may have created or migrated the tables while this one waited for the lock
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current === 0) db.exec(TABLES);
    else for (let v = current; v < SCHEMA_VERSION; v++) MIGRATIONS[v]!(db);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** MIGRATIONS[v] takes a version-v file to version v + 1. */
const MIGRATIONS: Record<number, (db: Database.Database) => void> = {
  1: (db) => {
    db.exec(
      'ALTER TABLE objects ADD COLUMN displayNameKey TEXT; ALTER TABLE objects ADD COLUMN emailKey TEXT;',
    );
    const rows = db
      .prepare('SELECT id, type, displayName, attributes FROM objects')
      .iterate() as IterableIterator<{
      id: string;
      type: ObjectType;
      displayName: string | null;
      attributes: string;
    }>;
    const set = db.prepare('UPDATE objects SET displayNameKey = ?, emailKey = ? WHERE id = ?');
    // read all first: a statement cannot write the table another one is still iterating
    const keys = [...rows].map((row) => ({
      id: row.id,
      ...lookupKeys(row.type, row.displayName, decodeAttributes(row.attributes)),
    }));
    for (const k of keys)
      if (k.displayNameKey !== null || k.emailKey !== null) set.run(k.displayNameKey, k.emailKey, k.id);
    db.exec(LOOKUP_KEY_INDEXES);
  },
  2: (db) => {
    db.exec(LAST_MODIFIED_INDEX);
  },
};
