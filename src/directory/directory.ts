import { EventEmitter } from 'node:events';
import Database from 'better-sqlite3';
import type { AttributeChange } from '../connectors/contract.js';
import { preparePrivateFile } from '../core/files.js';
import {
  type Attributes,
  decodeAttributes,
  encodeAttributes,
  encodeValue,
  sameValue,
  type Value,
  valueKey,
  valuesMissingFrom,
} from '../core/values.js';
import {
  COLUMN_ATTRIBUTES,
  checkRequired,
  lookupKeys,
  SEVERAL_EMAILS,
  memberIds,
  OBJECT_TYPES,
  type ObjectType,
  type SplitAttributes,
  singleBoolean,
  singleText,
  splitAttributes,
  userNameKey,
} from './attributes.js';
import { DirectoryError } from './errors.js';
import { newId } from './ids.js';
import { openSchema } from './schema.js';

export interface DirectoryOptions {
  /**
   * SQLite page cache in KiB (default 65,536: a 100,000-object load in one transaction stays in memory). A
   * writer that commits in small batches, such as the engine's export, needs far less.
   */
  cacheKb?: number;
}

/** A user or group as the directory holds it. */
export interface DirectoryObject {
  id: string;
  type: ObjectType;
  /** bumped by every change, membership included: the SCIM ETag */
  version: number;
  /** ISO 8601 UTC */
  created: string;
  lastModified: string;
  /** the sequence number of the last change to the object's own attributes */
  changeSeq: number;
  /** every attribute, columns included; a group's `members` when asked for (the default) */
  attributes: Attributes;
}

/** A group's member as SCIM's Group.members tells it: its id, its type and the name it is shown by. */
export interface MemberSummary {
  id: string;
  /** undefined only for a member row whose object is gone (members are removed with their object) */
  type: ObjectType | undefined;
  /** a group's displayName; a user's displayName, else its userName */
  display: string | undefined;
}

/** What a write returns: enough for an ETag and a Location, without reading a large group back. */
export interface WriteResult {
  id: string;
  type: ObjectType;
  version: number;
  created: string;
  lastModified: string;
  /** false when the write changed nothing (same values): no new version, no change record */
  changed: boolean;
}

export interface ReadOptions {
  /** read a group's members (default true); a 100,000-member group costs a read of 100,000 rows */
  members?: boolean;
}

export interface ListOptions extends ReadOptions {
  type?: ObjectType;
  /** keyset paging: objects whose id sorts after this one */
  afterId?: string;
  /** default 1000 */
  limit?: number;
}

/** Objects of one type by when they last changed (`meta.lastModified`), read by the index on it. */
export interface ModifiedRange {
  type: ObjectType;
  /** a lastModified as the directory writes it (Date.toISOString: UTC, milliseconds), so strings order as instants */
  from: string;
  /** true: changed after `from`; false: at or after */
  exclusive: boolean;
}

export interface WriteOptions {
  /** fail with DIRECTORY_VERSION_CONFLICT unless the object is at this version (SCIM If-Match) */
  ifVersion?: number;
}

export type DirectoryChange =
  /** the object as it is now (created, or its attributes changed) */
  | { kind: 'upsert'; seq: number; object: DirectoryObject }
  | { kind: 'delete'; seq: number; id: string; type: ObjectType }
  /** one membership change of a group whose attributes did not change since */
  | { kind: 'member'; seq: number; groupId: string; memberId: string; added: boolean };

export interface ChangesPage {
  changes: DirectoryChange[];
  /** the sequence number to pass next time (the last change's, or the one given when there was none) */
  lastSeq: number;
}

export interface DirectoryCounts {
  users: number;
  groups: number;
  memberships: number;
  tombstones: number;
  /** the current value of the change sequence */
  sequence: number;
}

interface ObjectRow {
  id: string;
  type: ObjectType;
  userName: string | null;
  displayName: string | null;
  externalId: string | null;
  active: number | null;
  attributes: string;
  version: number;
  created: string;
  lastModified: string;
  changeSeq: number;
}

/** A row about to be written, with the look-up keys it is indexed by (an update leaves them alone if unchanged). */
interface RowForWrite extends ObjectRow {
  displayNameKey: string | null;
  emailKey: string | null;
}

const OBJECT_COLUMNS =
  'id, type, userName, displayName, externalId, active, attributes, version, created, lastModified, changeSeq';

const DEFAULT_PAGE = 1000;

/**
 * A members change touching more members than this re-stamps the group (a delta reader then gets the whole
 * group) instead of logging each member: bulk loads write one row per membership, not two.
 */
const MEMBER_LOG_LIMIT = 100;

type MembersChanged = 'none' | 'logged' | 'restamp';

/**
 * idsync's own directory of users and groups, in one SQLite file.
 *
 * Writes are synchronous (better-sqlite3) and each is atomic; `transaction(fn)` groups many into one commit,
 * which is what makes bulk loads fast. Every change takes a number from one global sequence, so a reader can
 * ask for everything after the number it last saw (`changesSince`), deletions included (tombstones).
 * Membership lives in its own table: adding one member to a large group writes one row, never the group.
 */
export class Directory {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly events = new EventEmitter();
  private readonly statements: ReturnType<typeof prepare>;
  private readonly runInTransaction: Database.Transaction<(fn: () => unknown) => unknown>;
  /** the sequence while a write transaction is open; read from and written back to the table around it */
  private sequence = 0;
  private closed = false;

  constructor(path: string, options: DirectoryOptions = {}) {
    this.path = path;
    preparePrivateFile(path);
    this.db = new Database(path);
    try {
      openSchema(this.db, path, options.cacheKb);
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.statements = prepare(this.db);
    this.runInTransaction = this.db.transaction((fn: () => unknown) => fn());
    this.events.setMaxListeners(0);
  }

  /**
   * Reads through a memory map of up to `bytes` of the file. A server answering random look-ups in a large
   * directory then reads a page without a system call each (at 100,000 users, filtered SCIM reads went from
   * 7,900 to 11,500 per second); the mapped pages count as resident memory, so batch writers leave it off.
   */
  useMemoryMap(bytes: number): void {
    if (this.path !== ':memory:') this.db.pragma(`mmap_size = ${Math.max(0, Math.floor(bytes))}`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.events.removeAllListeners();
    this.db.close();
  }

  /**
   * Runs `fn` in one transaction: all its writes commit together or not at all. Nested calls (and every
   * write method called inside) become savepoints, so one failed write can be caught without losing the rest.
   */
  transaction<T>(fn: () => T): T {
    return this.write(fn);
  }

  /** Called after each committed transaction that changed something; returns the unsubscribe function. */
  onChange(listener: (sequence: number) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  /**
   * Tells this instance's change listeners of a commit made through another connection of this process (the
   * built-in connector's writer thread), as if made here.
   */
  announce(sequence: number): void {
    if (!this.closed) this.events.emit('change', sequence);
  }

  /**
   * A number that changes whenever another connection (another process) commits to the file: with
   * `onChange`, which only sees this instance's writes, a watcher sees every change.
   */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  currentSequence(): number {
    return this.statements.readSequence.get() as number;
  }

  // ---- reads --------------------------------------------------------------------------------------------

  get(id: string, options: ReadOptions = {}): DirectoryObject | undefined {
    const row = this.statements.getRow.get(id) as ObjectRow | undefined;
    return row && this.toObject(row, options.members ?? true);
  }

  /**
   * Objects whose attribute equals the value. userName compares case-insensitively (SCIM: caseExact false),
   * the other columns exactly; `members` finds the groups with that member; any other attribute is searched
   * in the JSON blob (a scan: slower, but exact).
   */
  findBy(attribute: string, value: Value, type?: ObjectType, options: ReadOptions = {}): DirectoryObject[] {
    const rows =
      attribute === 'displayName' ? this.findByDisplayName(value, type) : this.findRows(attribute, value);
    return rows
      .filter((row) => type === undefined || row.type === type)
      .map((row) => this.toObject(row, options.members ?? true));
  }

  /**
   * Like findBy, comparing without regard to case (folded for every script) where SCIM does: by index for
   * userName, a group's displayName and a user's work email (`email`); a user's displayName is read from its
   * column alone. Other attributes compare as findBy does.
   */
  findFolded(
    attribute: string,
    value: Value,
    type?: ObjectType,
    options: ReadOptions = {},
  ): DirectoryObject[] {
    if (typeof value !== 'string' || (attribute !== 'displayName' && attribute !== 'email'))
      return this.findBy(attribute, value, type, options);
    const key = value.toLowerCase();
    const s = this.statements;
    let rows: ObjectRow[];
    if (attribute === 'email') rows = this.findByEmail((v) => v.toLowerCase() === key, key);
    else {
      const groups = type === 'user' ? [] : (s.findByDisplayNameKey.all(key) as ObjectRow[]);
      const users =
        type === 'group'
          ? []
          : (s.usersWithDisplayName.all() as ObjectRow[]).filter(
              (row) => row.displayName!.toLowerCase() === key,
            );
      rows = [...groups, ...users];
    }
    return rows
      .filter((row) => type === undefined || row.type === type)
      .map((row) => this.toObject(row, options.members ?? true));
  }

  /** Keyset paging in id order (ids are time-ordered UUIDv7, so roughly creation order). */
  list(options: ListOptions = {}): DirectoryObject[] {
    const after = options.afterId ?? '';
    const limit = options.limit ?? DEFAULT_PAGE;
    const rows = (
      options.type === 'group'
        ? this.statements.listGroups.all(after, limit)
        : options.type === 'user'
          ? this.statements.listUsers.all(after, limit)
          : this.statements.listAll.all(after, limit)
    ) as ObjectRow[];
    const withMembers = options.members ?? true;
    return rows.map((row) => this.toObject(row, withMembers));
  }

  /** How many objects of the range there are (SCIM totalResults of a `meta.lastModified gt` filter). */
  countModified(range: ModifiedRange): number {
    return this.statements.countModified[range.exclusive ? 'gt' : 'ge'].get(range.type, range.from) as number;
  }

  /**
   * A page of the range in lastModified order (then id), by position: a SCIM delta reader pages it with
   * startIndex, and an object changed while it reads moves to the end, where it is still read.
   */
  listModified(
    range: ModifiedRange,
    page: { offset: number; limit: number; descending?: boolean },
    options: ReadOptions = {},
  ): DirectoryObject[] {
    if (page.limit <= 0) return [];
    const statement = this.statements.listModified[`${range.exclusive ? 'gt' : 'ge'}${page.descending ? 'Desc' : 'Asc'}`];
    const rows = statement.all(range.type, range.from, page.limit, page.offset) as ObjectRow[];
    return rows.map((row) => this.toObject(row, options.members ?? true));
  }

  /**
   * The id of the object at `offset` (0-based) in id order, for paging by position (SCIM startIndex): the
   * database steps over the skipped rows in its index without reading them into objects.
   */
  idAt(type: ObjectType, offset: number): string | undefined {
    const statement = type === 'group' ? this.statements.groupIdAt : this.statements.userIdAt;
    return statement.get(offset) as string | undefined;
  }

  memberIds(groupId: string): string[] {
    return this.statements.membersOf.all(groupId) as string[];
  }

  /** The members of a group with their type and name, in one query (SCIM Group.members), in id order. */
  memberSummaries(groupId: string): MemberSummary[] {
    return (
      this.statements.memberSummaries.all(groupId) as {
        id: string;
        type: ObjectType | null;
        displayName: string | null;
        userName: string | null;
      }[]
    ).map((row) => ({
      id: row.id,
      type: row.type ?? undefined,
      display: row.displayName ?? row.userName ?? undefined,
    }));
  }

  /** The groups the object is a direct member of (SCIM User.groups). */
  groupsOf(id: string): string[] {
    return this.statements.groupsOf.all(id) as string[];
  }

  /**
   * Changes after `seq`, oldest first, at most `limit`. An object changed several times appears once, as it
   * is now, at its latest number; a deleted object appears as a tombstone.
   */
  changesSince(seq: number, limit = DEFAULT_PAGE): ChangesPage {
    const read = () => {
      const s = this.statements;
      // Three ordered index scans merged here: a UNION ... ORDER BY would sort the whole backlog every page.
      const objects = s.objectsSince.all(seq, limit) as ObjectRow[];
      const tombstones = s.tombstonesSince.all(seq, limit) as {
        id: string;
        type: ObjectType;
        changeSeq: number;
      }[];
      const members = s.memberLogSince.all(seq, limit) as {
        seq: number;
        group_id: string;
        member_id: string;
        added: number;
      }[];
      const merged: { seq: number; make: () => DirectoryChange }[] = [];
      for (const row of objects) {
        merged.push({
          seq: row.changeSeq,
          make: () => ({ kind: 'upsert', seq: row.changeSeq, object: this.toObject(row, true) }),
        });
      }
      for (const t of tombstones) {
        merged.push({
          seq: t.changeSeq,
          make: () => ({ kind: 'delete', seq: t.changeSeq, id: t.id, type: t.type }),
        });
      }
      for (const m of members) {
        merged.push({
          seq: m.seq,
          make: () => ({
            kind: 'member',
            seq: m.seq,
            groupId: m.group_id,
            memberId: m.member_id,
            added: m.added === 1,
          }),
        });
      }
      merged.sort((a, b) => a.seq - b.seq);
      const taken = merged.slice(0, limit);
      return {
        changes: taken.map((entry) => entry.make()),
        lastSeq: taken.length > 0 ? taken[taken.length - 1]!.seq : seq,
      };
    };
    // one snapshot for the three reads, even while another process writes
    return this.db.inTransaction ? read() : this.db.transaction(read).deferred();
  }

  counts(): DirectoryCounts {
    const byType = this.statements.countByType.all() as { type: ObjectType; n: number }[];
    return {
      users: byType.find((r) => r.type === 'user')?.n ?? 0,
      groups: byType.find((r) => r.type === 'group')?.n ?? 0,
      memberships: this.statements.countMembers.get() as number,
      tombstones: this.statements.countTombstones.get() as number,
      sequence: this.currentSequence(),
    };
  }

  /**
   * Users whose `password` is held as written rather than as a scrypt hash (src/directory/password.ts): what
   * a non-gateway endpoint hashes when it starts. A scan of the users' JSON, done once per start.
   */
  *clearPasswords(): Generator<{ id: string; password: string }> {
    const rows = this.db
      .prepare(
        `SELECT id, json_extract(attributes, '$.password[0]') AS password FROM objects
         WHERE type = 'user' AND json_type(attributes, '$.password[0]') = 'text'
           AND json_extract(attributes, '$.password[0]') NOT LIKE '$scrypt$%' ORDER BY id`,
      )
      .all() as { id: string; password: string }[];
    for (const row of rows) yield row;
  }

  // ---- writes -------------------------------------------------------------------------------------------

  create(type: ObjectType, attributes: Attributes): WriteResult {
    if (!OBJECT_TYPES.includes(type)) {
      throw new DirectoryError('DIRECTORY_INVALID_VALUE', `unknown object type ${JSON.stringify(type)}`);
    }
    const split = splitAttributes(type, attributes);
    const members = split.members ?? [];
    // Without members the only statement that can fail is the INSERT, which undoes only itself: no savepoint,
    // which matters at 100,000 creates in one transaction. A missing member must undo the row: savepoint.
    return this.write(() => {
      const id = newId();
      const now = new Date().toISOString();
      const seq = ++this.sequence;
      this.insertRow(id, type, split, now, seq);
      if (members.length > 0) this.insertNewMembers(id, members);
      return { id, type, version: 1, created: now, lastModified: now, changed: true };
    }, members.length > 0);
  }

  /**
   * Applies attribute changes. `members` changes go to the membership table one row each; a group whose
   * other attributes do not change is never rewritten.
   */
  update(id: string, changes: Record<string, AttributeChange>, options: WriteOptions = {}): WriteResult {
    return this.write(() => {
      const row = this.rowForWrite(id, options);
      const split = this.splitRow(row);
      let memberChange: AttributeChange | undefined;
      for (const name in changes) {
        const change = changes[name]!;
        if (name === 'members') {
          if (row.type !== 'group') {
            throw new DirectoryError('DIRECTORY_INVALID_VALUE', 'a user has no members', {
              anchor: id,
              attribute: name,
            });
          }
          memberChange = change;
        } else if (COLUMN_ATTRIBUTES.has(name)) {
          setColumn(split, row.type, name, applyChange(columnValues(split, name), change), id);
        } else if (name === 'id' || name === 'groups') {
          throw new DirectoryError('DIRECTORY_INVALID_VALUE', `${name} is read-only`, {
            anchor: id,
            attribute: name,
          });
        } else {
          const values = applyChange(split.rest[name] ?? [], change);
          if (values.length > 0) split.rest[name] = values;
          else delete split.rest[name];
        }
      }
      checkRequired(row.type, split, id);
      const membersChanged = memberChange ? this.changeMembers(id, memberChange) : 'none';
      return this.saveRow(row, split, membersChanged);
    });
  }

  /** Replaces every attribute (SCIM PUT): what `attributes` does not name is removed, members included. */
  replace(id: string, attributes: Attributes, options: WriteOptions = {}): WriteResult {
    return this.write(() => {
      const row = this.rowForWrite(id, options);
      const split = splitAttributes(row.type, attributes, id);
      const membersChanged =
        row.type === 'group'
          ? this.changeMembers(id, { replace: (split.members ?? []).map((ref) => ({ ref })) })
          : 'none';
      return this.saveRow(row, split, membersChanged);
    });
  }

  /** Deletes the object, its memberships (each group it was in gets a change) and leaves a tombstone. */
  delete(id: string, options: WriteOptions = {}): void {
    this.write(() => {
      const row = this.rowForWrite(id, options);
      const s = this.statements;
      const now = new Date().toISOString();
      for (const groupId of s.groupsOf.all(id) as string[]) {
        s.logMember.run(++this.sequence, groupId, id, 0);
        s.touch.run(now, groupId);
      }
      s.removeAllMembershipsOf.run(id);
      if (row.type === 'group') {
        s.removeAllMembersOf.run(id);
        s.pruneMemberLog.run(id);
      }
      s.deleteRow.run(id);
      s.insertTombstone.run(id, row.type, ++this.sequence);
    });
  }

  addMembers(groupId: string, ids: readonly string[]): WriteResult {
    return this.changeGroupMembers(groupId, { add: ids.map((ref) => ({ ref })) });
  }

  removeMembers(groupId: string, ids: readonly string[]): WriteResult {
    return this.changeGroupMembers(groupId, { remove: ids.map((ref) => ({ ref })) });
  }

  // ---- internals ----------------------------------------------------------------------------------------

  private changeGroupMembers(groupId: string, change: AttributeChange): WriteResult {
    return this.write(() => {
      const row = this.statements.getRowForWrite.get(groupId) as RowForWrite | undefined;
      if (row?.type !== 'group') {
        throw new DirectoryError('DIRECTORY_NOT_FOUND', `no group ${groupId}`, { anchor: groupId });
      }
      const changed = this.changeMembers(groupId, change);
      return this.saveRow(row, this.splitRow(row), changed);
    });
  }

  /**
   * The outermost write opens an IMMEDIATE transaction (takes the write lock at once, so the sequence read at
   * its start cannot be stale) and writes the sequence back before committing; nested writes are savepoints.
   */
  private write<T>(fn: () => T, savepoint = true): T {
    if (this.db.inTransaction) return savepoint ? (this.runInTransaction(fn) as T) : fn();
    let startSequence = 0;
    this.lastSpan = undefined;
    const result = this.runInTransaction.immediate(() => {
      startSequence = this.sequence = this.statements.readSequence.get() as number;
      const value = fn();
      if (this.sequence !== startSequence) this.statements.writeSequence.run(this.sequence);
      return value;
    }) as T;
    this.lastSpan = { from: startSequence, to: this.sequence };
    if (this.sequence !== startSequence) this.events.emit('change', this.sequence);
    return result;
  }

  private lastSpan: { from: number; to: number } | undefined;

  /**
   * The change sequence just before and just after the last committed outermost write of this instance.
   * The write held the write lock throughout, so every number in between is one of its own changes.
   */
  lastWriteSpan(): { from: number; to: number } | undefined {
    return this.lastSpan;
  }

  private rowForWrite(id: string, options: WriteOptions): RowForWrite {
    const row = this.statements.getRowForWrite.get(id) as RowForWrite | undefined;
    if (!row) throw new DirectoryError('DIRECTORY_NOT_FOUND', `no object ${id}`, { anchor: id });
    if (options.ifVersion !== undefined && options.ifVersion !== row.version) {
      throw new DirectoryError(
        'DIRECTORY_VERSION_CONFLICT',
        `object is at version ${row.version}, not ${options.ifVersion}`,
        { anchor: id },
      );
    }
    return row;
  }

  private insertRow(id: string, type: ObjectType, split: SplitAttributes, now: string, seq: number): void {
    try {
      this.statements.insertRow.run(
        id,
        type,
        split.userName,
        split.userName === null ? null : userNameKey(split.userName),
        split.displayName,
        ...folded(type, split),
        split.externalId,
        split.active === null ? null : split.active ? 1 : 0,
        encodeAttributes(split.rest),
        now,
        now,
        seq,
      );
    } catch (err) {
      throw this.uniquenessError(err, split, id) ?? err;
    }
  }

  /** Writes the row if its attributes changed; bumps the version if only membership changed. */
  private saveRow(row: RowForWrite, split: SplitAttributes, membersChanged: MembersChanged): WriteResult {
    const json = encodeAttributes(split.rest);
    const attributesChanged =
      membersChanged === 'restamp' ||
      json !== row.attributes ||
      split.userName !== row.userName ||
      split.displayName !== row.displayName ||
      split.externalId !== row.externalId ||
      (split.active === null ? null : split.active ? 1 : 0) !== row.active;
    if (!attributesChanged && membersChanged === 'none') {
      return {
        id: row.id,
        type: row.type,
        version: row.version,
        created: row.created,
        lastModified: row.lastModified,
        changed: false,
      };
    }
    const now = new Date().toISOString();
    if (attributesChanged) {
      const keys = folded(row.type, split);
      const active = split.active === null ? null : split.active ? 1 : 0;
      try {
        if (this.sameKeys(row, split, keys)) {
          // SQLite rewrites an index entry whenever its column is assigned, even to the same value: a change of
          // title assigns no looked-up column
          this.statements.updateRowAttributes.run(active, json, now, ++this.sequence, row.id);
        } else {
          this.statements.updateRow.run(
            split.userName,
            split.userName === null ? null : userNameKey(split.userName),
            split.displayName,
            ...keys,
            split.externalId,
            active,
            json,
            now,
            ++this.sequence,
            row.id,
          );
        }
      } catch (err) {
        throw this.uniquenessError(err, split, row.id) ?? err;
      }
      // a reader behind this change gets the whole group, members included: older member entries are moot
      if (row.type === 'group') this.statements.pruneMemberLog.run(row.id);
    } else {
      this.statements.touch.run(now, row.id);
    }
    return {
      id: row.id,
      type: row.type,
      version: row.version + 1,
      created: row.created,
      lastModified: now,
      changed: true,
    };
  }

  /** Whether an update leaves every column the directory looks objects up by as it was. */
  private sameKeys(row: RowForWrite, split: SplitAttributes, keys: [string | null, string | null]): boolean {
    return (
      split.userName === row.userName &&
      split.displayName === row.displayName &&
      split.externalId === row.externalId &&
      row.displayNameKey === keys[0] &&
      row.emailKey === keys[1]
    );
  }

  /**
   * Applies a members change row by row. Each change is logged for delta readers, unless there are so many
   * that re-stamping the group is cheaper ('restamp': the caller gives the group a new changeSeq).
   */
  private changeMembers(groupId: string, change: AttributeChange): MembersChanged {
    const s = this.statements;
    let toAdd: string[];
    let toRemove: string[];
    if (change.replace !== undefined) {
      // replace is O(group size) by nature: compute the difference, write only that
      const current = new Set(s.membersOf.all(groupId) as string[]);
      const target = new Set(memberIds(change.replace, groupId));
      for (const id of memberIds(change.remove ?? [], groupId)) target.delete(id);
      for (const id of memberIds(change.add ?? [], groupId)) target.add(id);
      toAdd = [...target].filter((id) => !current.has(id));
      toRemove = [...current].filter((id) => !target.has(id));
    } else {
      toRemove = memberIds(change.remove ?? [], groupId);
      toAdd = memberIds(change.add ?? [], groupId);
    }
    const log = toAdd.length + toRemove.length <= MEMBER_LOG_LIMIT;
    let changes = 0;
    for (const memberId of toRemove) {
      if (s.removeMember.run(groupId, memberId).changes > 0) {
        if (log) s.logMember.run(++this.sequence, groupId, memberId, 0);
        changes++;
      }
    }
    for (const memberId of toAdd) {
      if (this.insertMember(groupId, memberId)) {
        if (log) s.logMember.run(++this.sequence, groupId, memberId, 1);
        changes++;
      }
    }
    if (changes === 0) return 'none';
    return log ? 'logged' : 'restamp';
  }

  /**
   * The members of a group just created, in one statement (a bulk load writes 100,000 of them). Fewer rows
   * than distinct members means one does not exist: found and reported as insertMember does.
   */
  private insertNewMembers(groupId: string, members: string[]): void {
    const distinct = [...new Set(members)];
    if (distinct.includes(groupId)) throw invalidMember(groupId, 'a group cannot be its own member');
    if (this.statements.addMembersIfExist.run(groupId, JSON.stringify(distinct)).changes === distinct.length)
      return;
    for (const memberId of distinct) {
      if (this.statements.exists.get(memberId) === undefined)
        throw invalidMember(groupId, `member ${memberId} does not exist`);
    }
  }

  /**
   * Adds one membership if the member exists; true when a row was added. One statement in the common case:
   * the existence check only runs when nothing was inserted, to tell "already a member" from "no such object".
   */
  private insertMember(groupId: string, memberId: string): boolean {
    if (memberId === groupId) throw invalidMember(groupId, 'a group cannot be its own member');
    if (this.statements.addMemberIfExists.run(groupId, memberId).changes > 0) return true;
    if (this.statements.exists.get(memberId) === undefined) {
      throw invalidMember(groupId, `member ${memberId} does not exist`);
    }
    return false;
  }

  private uniquenessError(err: unknown, split: SplitAttributes, id: string): DirectoryError | undefined {
    if (!(err instanceof Database.SqliteError) || err.code !== 'SQLITE_CONSTRAINT_UNIQUE') return undefined;
    if (!err.message.includes('userNameKey') || split.userName === null) return undefined;
    const holder = this.statements.findByUserName.get(userNameKey(split.userName)) as ObjectRow | undefined;
    return new DirectoryError(
      'DIRECTORY_UNIQUENESS',
      `userName ${JSON.stringify(split.userName)} is already used by ${holder?.id ?? 'another user'}`,
      { anchor: id, attribute: 'userName' },
    );
  }

  private splitRow(row: ObjectRow): SplitAttributes {
    return {
      userName: row.userName,
      displayName: row.displayName,
      externalId: row.externalId,
      active: row.active === null ? null : row.active === 1,
      members: undefined,
      rest: decodeBlob(row.attributes),
    };
  }

  private toObject(row: ObjectRow, withMembers: boolean): DirectoryObject {
    const attributes = decodeBlob(row.attributes);
    if (row.userName !== null) attributes.userName = [row.userName];
    if (row.displayName !== null) attributes.displayName = [row.displayName];
    if (row.externalId !== null) attributes.externalId = [row.externalId];
    if (row.active !== null) attributes.active = [row.active === 1];
    if (row.type === 'group' && withMembers) {
      const ids = this.statements.membersOf.all(row.id) as string[];
      if (ids.length > 0) attributes.members = ids.map((ref) => ({ ref }));
    }
    return {
      id: row.id,
      type: row.type,
      version: row.version,
      created: row.created,
      lastModified: row.lastModified,
      changeSeq: row.changeSeq,
      attributes,
    };
  }

  /** indexed for groups; for users a scan (SCIM clients rarely filter users by displayName) */
  private findByDisplayName(value: Value, type: ObjectType | undefined): ObjectRow[] {
    const text = typeof value === 'number' ? String(value) : value;
    if (typeof text !== 'string') return [];
    const groups = type === 'user' ? [] : (this.statements.findGroupByDisplayName.all(text) as ObjectRow[]);
    const users = type === 'group' ? [] : (this.statements.findUserByDisplayName.all(text) as ObjectRow[]);
    return [...groups, ...users];
  }

  /** Objects whose email key is `key`, or that have several emails, kept when one of their emails passes. */
  private findByEmail(passes: (email: string) => boolean, key: string): ObjectRow[] {
    const s = this.statements;
    const rows = [
      ...(s.findByEmailKey.all(key) as ObjectRow[]),
      ...(s.findByEmailKey.all(SEVERAL_EMAILS) as ObjectRow[]),
    ];
    return rows
      .filter((row) =>
        (decodeBlob(row.attributes).email ?? []).some((v) => typeof v === 'string' && passes(v)),
      )
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private findRows(attribute: string, value: Value): ObjectRow[] {
    const s = this.statements;
    // the index is folded; the exact value decides
    if (attribute === 'email' && typeof value === 'string')
      return this.findByEmail((v) => v === value, value.toLowerCase());
    switch (attribute) {
      case 'id':
        return typeof value === 'string' ? (s.getRow.all(value) as ObjectRow[]) : [];
      case 'userName':
        return typeof value === 'string' ? (s.findByUserName.all(userNameKey(value)) as ObjectRow[]) : [];
      case 'externalId': {
        const text = typeof value === 'number' ? String(value) : value;
        return typeof text === 'string' ? (s.findByExternalId.all(text) as ObjectRow[]) : [];
      }
      case 'active':
        return typeof value === 'boolean' ? (s.findByActive.all(value ? 1 : 0) as ObjectRow[]) : [];
      case 'members':
        return typeof value === 'object' && 'ref' in value
          ? (s.findByMember.all(value.ref) as ObjectRow[])
          : [];
      default: {
        const candidates = s.findInJson.all(JSON.stringify(encodeValue(value))) as ObjectRow[];
        return candidates.filter((row) =>
          (decodeAttributes(row.attributes)[attribute] ?? []).some((v) => sameValue(v, value)),
        );
      }
    }
  }
}

function prepare(db: Database.Database) {
  const select = `SELECT ${OBJECT_COLUMNS} FROM objects`;
  return {
    readSequence: db.prepare('SELECT value FROM sequence WHERE one = 1').pluck(),
    writeSequence: db.prepare('UPDATE sequence SET value = ? WHERE one = 1'),
    getRow: db.prepare(`${select} WHERE id = ?`),
    getRowForWrite: db.prepare(`SELECT ${OBJECT_COLUMNS}, displayNameKey, emailKey FROM objects WHERE id = ?`),
    exists: db.prepare('SELECT 1 FROM objects WHERE id = ?').pluck(),
    insertRow: db.prepare(
      `INSERT INTO objects (id, type, userName, userNameKey, displayName, displayNameKey, emailKey, externalId,
         active, attributes, version, created, lastModified, changeSeq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
    ),
    updateRow: db.prepare(
      `UPDATE objects SET userName = ?, userNameKey = ?, displayName = ?, displayNameKey = ?, emailKey = ?,
         externalId = ?, active = ?, attributes = ?,
         version = version + 1, lastModified = ?, changeSeq = ? WHERE id = ?`,
    ),
    updateRowAttributes: db.prepare(
      'UPDATE objects SET active = ?, attributes = ?, version = version + 1, lastModified = ?, changeSeq = ? WHERE id = ?',
    ),
    touch: db.prepare('UPDATE objects SET version = version + 1, lastModified = ? WHERE id = ?'),
    deleteRow: db.prepare('DELETE FROM objects WHERE id = ?'),
    insertTombstone: db.prepare('INSERT OR REPLACE INTO tombstones (id, type, changeSeq) VALUES (?, ?, ?)'),
    addMemberIfExists: db.prepare(
      'INSERT OR IGNORE INTO members (group_id, member_id) SELECT ?, id FROM objects WHERE id = ?',
    ),
    addMembersIfExist: db.prepare(
      'INSERT OR IGNORE INTO members (group_id, member_id) SELECT ?, id FROM objects WHERE id IN (SELECT value FROM json_each(?))',
    ),
    removeMember: db.prepare('DELETE FROM members WHERE group_id = ? AND member_id = ?'),
    removeAllMembershipsOf: db.prepare('DELETE FROM members WHERE member_id = ?'),
    removeAllMembersOf: db.prepare('DELETE FROM members WHERE group_id = ?'),
    membersOf: db.prepare('SELECT member_id FROM members WHERE group_id = ? ORDER BY member_id').pluck(),
    groupsOf: db.prepare('SELECT group_id FROM members WHERE member_id = ? ORDER BY group_id').pluck(),
    memberSummaries: db.prepare(
      'SELECT m.member_id AS id, o.type, o.displayName, o.userName FROM members m LEFT JOIN objects o ON o.id = m.member_id WHERE m.group_id = ? ORDER BY m.member_id',
    ),
    logMember: db.prepare('INSERT INTO member_log (seq, group_id, member_id, added) VALUES (?, ?, ?, ?)'),
    pruneMemberLog: db.prepare('DELETE FROM member_log WHERE group_id = ?'),
    listAll: db.prepare(`${select} WHERE id > ? ORDER BY id LIMIT ?`),
    listGroups: db.prepare(`${select} WHERE type = 'group' AND id > ? ORDER BY id LIMIT ?`),
    countModified: {
      ge: db.prepare('SELECT count(*) FROM objects WHERE type = ? AND lastModified >= ?').pluck(),
      gt: db.prepare('SELECT count(*) FROM objects WHERE type = ? AND lastModified > ?').pluck(),
    },
    listModified: {
      geAsc: db.prepare(`${select} WHERE type = ? AND lastModified >= ? ORDER BY lastModified, id LIMIT ? OFFSET ?`),
      gtAsc: db.prepare(`${select} WHERE type = ? AND lastModified > ? ORDER BY lastModified, id LIMIT ? OFFSET ?`),
      geDesc: db.prepare(`${select} WHERE type = ? AND lastModified >= ? ORDER BY lastModified DESC, id DESC LIMIT ? OFFSET ?`),
      gtDesc: db.prepare(`${select} WHERE type = ? AND lastModified > ? ORDER BY lastModified DESC, id DESC LIMIT ? OFFSET ?`),
    },
    listUsers: db.prepare(`${select} WHERE type = 'user' AND id > ? ORDER BY id LIMIT ?`),
    userIdAt: db.prepare("SELECT id FROM objects WHERE type = 'user' ORDER BY id LIMIT 1 OFFSET ?").pluck(),
    groupIdAt: db.prepare("SELECT id FROM objects WHERE type = 'group' ORDER BY id LIMIT 1 OFFSET ?").pluck(),
    findByUserName: db.prepare(`${select} WHERE userNameKey = ?`),
    findGroupByDisplayName: db.prepare(`${select} WHERE type = 'group' AND displayName = ? ORDER BY id`),
    findUserByDisplayName: db.prepare(`${select} WHERE type = 'user' AND displayName = ? ORDER BY id`),
    findByExternalId: db.prepare(`${select} WHERE externalId = ? ORDER BY id`),
    findByActive: db.prepare(`${select} WHERE active = ? ORDER BY id`),
    findByMember: db.prepare(
      `${select} WHERE id IN (SELECT group_id FROM members WHERE member_id = ?) ORDER BY id`,
    ),
    // a cheap superset (the value's JSON text occurs somewhere in the blob); findRows checks exactly
    findByDisplayNameKey: db.prepare(`${select} WHERE displayNameKey = ? ORDER BY id`),
    findByEmailKey: db.prepare(`${select} WHERE emailKey = ? ORDER BY id`),
    usersWithDisplayName: db.prepare(`${select} WHERE type = 'user' AND displayName IS NOT NULL ORDER BY id`),
    findInJson: db.prepare(`${select} WHERE instr(attributes, ?) > 0 ORDER BY id`),
    objectsSince: db.prepare(`${select} WHERE changeSeq > ? ORDER BY changeSeq LIMIT ?`),
    tombstonesSince: db.prepare(
      'SELECT id, type, changeSeq FROM tombstones WHERE changeSeq > ? ORDER BY changeSeq LIMIT ?',
    ),
    memberLogSince: db.prepare(
      'SELECT seq, group_id, member_id, added FROM member_log WHERE seq > ? ORDER BY seq LIMIT ?',
    ),
    countByType: db.prepare('SELECT type, count(*) AS n FROM objects GROUP BY type'),
    countMembers: db.prepare('SELECT count(*) FROM members').pluck(),
    countTombstones: db.prepare('SELECT count(*) FROM tombstones').pluck(),
  };
}

function invalidMember(groupId: string, message: string): DirectoryError {
  return new DirectoryError('DIRECTORY_INVALID_MEMBER', message, { anchor: groupId, attribute: 'members' });
}

/**
 * decodeAttributes walks every value to revive binary ones; most blobs have none, and a full import decodes
 * 100,000 of them, so those are parsed in one step.
 */
function folded(type: ObjectType, split: SplitAttributes): [string | null, string | null] {
  const keys = lookupKeys(type, split.displayName, split.rest);
  return [keys.displayNameKey, keys.emailKey];
}

function decodeBlob(json: string): Attributes {
  return json.includes('"$b64"') ? decodeAttributes(json) : (JSON.parse(json) as Attributes);
}

// ---- attribute changes ----------------------------------------------------------------------------------

/** replace (or the current values), minus remove, plus the added values not already there */
function applyChange(current: readonly Value[], change: AttributeChange): Value[] {
  let values = change.replace !== undefined ? [...change.replace] : [...current];
  if (change.remove && change.remove.length > 0) {
    const removed = new Set(change.remove.map(valueKey));
    values = values.filter((v) => !removed.has(valueKey(v)));
  }
  if (change.add && change.add.length > 0) values = values.concat(valuesMissingFrom(change.add, values));
  return values;
}

function columnValues(split: SplitAttributes, name: string): Value[] {
  const value = split[name as 'userName' | 'displayName' | 'externalId' | 'active'];
  return value === null ? [] : [value];
}

function setColumn(
  split: SplitAttributes,
  type: ObjectType,
  name: string,
  values: Value[],
  id: string,
): void {
  if ((name === 'userName' || name === 'active') && type !== 'user' && values.length > 0) {
    throw new DirectoryError('DIRECTORY_INVALID_VALUE', `a ${type} has no ${name}`, {
      anchor: id,
      attribute: name,
    });
  }
  if (name === 'active') split.active = singleBoolean(values, id);
  else split[name as 'userName' | 'displayName' | 'externalId'] = singleText(values, name, id);
}
