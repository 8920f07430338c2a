/**
 * The LDAP controls the connector sends, written with ldapts' Control extension point, and decoders for the
 * response controls and intermediate messages it reads (which arrive raw from connection.ts).
 */
import { BerWriter, Control, type Filter } from 'ldapts';
import { BerCursor } from './ber.js';
import type { RawControl } from './connection.js';

export const OID = {
  pagedResults: '1.2.840.113556.1.4.319',
  syncRequest: '1.3.6.1.4.1.4203.1.9.1.1',
  syncState: '1.3.6.1.4.1.4203.1.9.1.2',
  syncDone: '1.3.6.1.4.1.4203.1.9.1.3',
  syncInfo: '1.3.6.1.4.1.4203.1.9.1.4',
  dirSync: '1.2.840.113556.1.4.841',
  showDeleted: '1.2.840.113556.1.4.417',
  permissiveModify: '1.2.840.113556.1.4.1413',
  assertion: '1.3.6.1.1.12',
} as const;

const OCTET_STRING = 0x04;

/** A control whose value is written by a function (ldapts writes the type and criticality). */
class ValueControl extends Control {
  constructor(
    oid: string,
    critical: boolean,
    private readonly value: ((writer: BerWriter) => void) | undefined,
  ) {
    super(oid, { critical });
  }

  protected override writeControl(writer: BerWriter): void {
    if (!this.value) return;
    const inner = new BerWriter();
    this.value(inner);
    writer.writeBuffer(inner.buffer, OCTET_STRING);
  }
}

/** RFC 2696 simple paged results: SEQUENCE { size INTEGER, cookie OCTET STRING } */
export function pagedResultsControl(size: number, cookie: Buffer | undefined): Control {
  return new ValueControl(OID.pagedResults, false, (w) => {
    w.startSequence();
    w.writeInt(size);
    w.writeBuffer(cookie ?? Buffer.alloc(0), OCTET_STRING);
    w.endSequence();
  });
}

export function pagedResultsCookie(controls: RawControl[]): Buffer | undefined {
  const control = controls.find((c) => c.oid === OID.pagedResults);
  if (!control?.value) return undefined;
  const cursor = new BerCursor(control.value);
  cursor.enter(0x30);
  cursor.int();
  const cookie = cursor.bytes();
  return cookie.length > 0 ? cookie : undefined;
}

// ---- RFC 4533 content synchronization ---------------------------------------------------------------

export type SyncMode = 'refreshOnly' | 'refreshAndPersist';

/** syncRequestValue ::= SEQUENCE { mode ENUMERATED, cookie syncCookie OPTIONAL, reloadHint BOOLEAN DEFAULT FALSE } */
export function syncRequestControl(mode: SyncMode, cookie: string | undefined): Control {
  return new ValueControl(OID.syncRequest, true, (w) => {
    w.startSequence();
    w.writeEnumeration(mode === 'refreshOnly' ? 1 : 3);
    if (cookie) w.writeBuffer(Buffer.from(cookie, 'utf8'), OCTET_STRING);
    w.endSequence();
  });
}

export type SyncStateKind = 'present' | 'add' | 'modify' | 'delete';
const SYNC_STATES: SyncStateKind[] = ['present', 'add', 'modify', 'delete'];

export interface SyncState {
  state: SyncStateKind;
  entryUUID: string;
  cookie?: string;
}

/** syncStateValue ::= SEQUENCE { state ENUMERATED, entryUUID syncUUID, cookie syncCookie OPTIONAL } */
export function syncState(controls: RawControl[]): SyncState | undefined {
  const control = controls.find((c) => c.oid === OID.syncState);
  if (!control?.value) return undefined;
  const cursor = new BerCursor(control.value);
  cursor.enter(0x30);
  const state = SYNC_STATES[cursor.int()] ?? 'modify';
  const entryUUID = uuidString(cursor.bytes());
  const cookie = cursor.done ? undefined : cursor.string();
  return { state, entryUUID, cookie };
}

/** syncDoneValue ::= SEQUENCE { cookie syncCookie OPTIONAL, refreshDeletes BOOLEAN DEFAULT FALSE } */
export function syncDone(controls: RawControl[]): { cookie?: string; refreshDeletes: boolean } | undefined {
  const control = controls.find((c) => c.oid === OID.syncDone);
  if (!control) return undefined;
  if (!control.value) return { refreshDeletes: false };
  const cursor = new BerCursor(control.value);
  cursor.enter(0x30);
  let cookie: string | undefined;
  let refreshDeletes = false;
  while (!cursor.done) {
    if (cursor.peekTag() === 0x04) cookie = cursor.string();
    else if (cursor.peekTag() === 0x01) refreshDeletes = cursor.boolean();
    else cursor.next();
  }
  return { cookie, refreshDeletes };
}

export type SyncInfo =
  | { kind: 'newCookie'; cookie: string }
  | { kind: 'refreshDelete' | 'refreshPresent'; cookie?: string; refreshDone: boolean }
  | { kind: 'syncIdSet'; cookie?: string; refreshDeletes: boolean; uuids: string[] };

/**
 * syncInfoValue ::= CHOICE { newcookie [0] syncCookie, refreshDelete [1] SEQUENCE {...},
 *   refreshPresent [2] SEQUENCE {...}, syncIdSet [3] SEQUENCE { cookie OPTIONAL, refreshDeletes BOOLEAN
 *   DEFAULT FALSE, syncUUIDs SET OF syncUUID } }
 */
export function syncInfo(value: Buffer): SyncInfo {
  const cursor = new BerCursor(value);
  const tag = cursor.peekTag();
  if (tag === 0x80) return { kind: 'newCookie', cookie: cursor.string() };
  cursor.enter();
  const end = cursor.end;
  let cookie: string | undefined;
  let flag: boolean | undefined;
  const uuids: string[] = [];
  while (cursor.pos < end) {
    const t = cursor.peekTag();
    if (t === 0x04) cookie = cursor.string();
    else if (t === 0x01) flag = cursor.boolean();
    else if (t === 0x31) {
      cursor.enter(0x31);
      const setEnd = cursor.end;
      while (cursor.pos < setEnd) uuids.push(uuidString(cursor.bytes()));
    } else cursor.next();
  }
  if (tag === 0xa1) return { kind: 'refreshDelete', cookie, refreshDone: flag ?? true };
  if (tag === 0xa2) return { kind: 'refreshPresent', cookie, refreshDone: flag ?? true };
  return { kind: 'syncIdSet', cookie, refreshDeletes: flag ?? false, uuids };
}

/** RFC 4122 text form of 16 bytes, as entryUUID is written */
export function uuidString(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

// ---- Active Directory --------------------------------------------------------------------------------

export const DIRSYNC_FLAGS = {
  objectSecurity: 0x1,
  ancestorsFirstOrder: 0x800,
  publicDataOnly: 0x2000,
  incrementalValues: 0x80000000,
} as const;

/** DirSync request: SEQUENCE { flags INTEGER, maxBytes INTEGER, cookie OCTET STRING } */
export function dirSyncControl(flags: number, maxBytes: number, cookie: Buffer | undefined): Control {
  return new ValueControl(OID.dirSync, true, (w) => {
    w.startSequence();
    // the flags are an unsigned 32-bit mask sent as a signed INTEGER
    w.writeInt(flags | 0);
    w.writeInt(maxBytes);
    w.writeBuffer(cookie ?? Buffer.alloc(0), OCTET_STRING);
    w.endSequence();
  });
}

/** DirSync response: SEQUENCE { moreResults INTEGER, unused INTEGER, cookie OCTET STRING } */
export function dirSyncResponse(controls: RawControl[]): { more: boolean; cookie: Buffer } | undefined {
  const control = controls.find((c) => c.oid === OID.dirSync);
  if (!control?.value) return undefined;
  const cursor = new BerCursor(control.value);
  cursor.enter(0x30);
  const more = cursor.int() !== 0;
  cursor.int();
  return { more, cookie: cursor.bytes() };
}

export function showDeletedControl(): Control {
  return new ValueControl(OID.showDeleted, true, undefined);
}

export function permissiveModifyControl(): Control {
  return new ValueControl(OID.permissiveModify, false, undefined);
}

/** RFC 4528: the operation applies only if the entry matches the filter */
export function assertionControl(filter: Filter): Control {
  return new ValueControl(OID.assertion, true, (w) => filter.write(w));
}
