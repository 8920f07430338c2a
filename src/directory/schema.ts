import type Database from 'better-sqlite3';
import { DirectoryError } from './errors.js';

/** Bumped when the tables change; a file from a newer idsync is refused rather than misread. */
const SCHEMA_VERSION = 1;

const TABLES = `
CREATE TABLE objects (
  id           TEXT NOT NULL PRIMARY KEY,
  type         TEXT NOT NULL CHECK (type IN ('user', 'group')),
  userName     TEXT COLLATE NOCASE,
  -- userName folded for every script: the unique index is on this, NOCASE alone folds ASCII only
  userNameKey  TEXT,
  displayName  TEXT,
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
  if (path !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // a password replaced by its hash (or dropped by a gateway) must not linger in the file's free space
  db.pragma('secure_delete = ON');
  // another process (idsync serve next to idsync run) may hold the write lock for a moment
  db.pragma('busy_timeout = 5000');
  // the default 2 MB cache spills a 100,000-object bulk load to the WAL mid-transaction, 10 times slower
  db.pragma(`cache_size = -${Math.max(1024, Math.floor(cacheKb))}`);
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new DirectoryError(
      'DIRECTORY_SCHEMA_TOO_NEW',
      `${path} has directory schema version ${version}; this idsync knows up to ${SCHEMA_VERSION}`,
    );
  }
  if (version === 0) {
    db.transaction(() => {
      // a second process may have created the tables while this one waited for the lock
      if ((db.pragma('user_version', { simple: true }) as number) !== 0) return;
      db.exec(TABLES);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  }
}
