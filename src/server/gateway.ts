/**
 * Gateway mode (what Microsoft's ECMA Connector Host does): the SCIM endpoint serves a built-in directory
 * that is a *source* in the rules, and each write is carried through the rules to the targets at once. The
 * SCIM response waits, at most `timeoutMs`, for the engine's cycle that imported the write, then reports
 * the targets' outcome: an export error becomes a SCIM error with the target's message.
 *
 * How the wait works: the write commits to the directory, whose change notification wakes the engine
 * (engine.serve). After each cycle the gateway reads the connector's watermark, the directory sequence the
 * import reached: once it covers the write, that cycle's export has run for it.
 *
 * Passwords: the gateway's directory keeps a password in clear only until it is delivered. After a cycle
 * that covered the write, when no export of the user is pending or failed, the password is removed from the
 * directory; the engine never clears a secret in a target because its source dropped it, and its own state
 * keeps only a keyed fingerprint of what it sent (docs/scim.md, "Passwords").
 */
import { redact } from '../core/redact.js';
import { isPasswordHash } from '../directory/password.js';
import type { Directory } from '../directory/index.js';
import type { Engine } from '../engine/engine.js';
import { ScimError } from '../scim/errors.js';
import type { ObjectErrorInfo } from '../store/types.js';
import type { AfterWrite } from './scim/service.js';

interface Waiter {
  seq: number;
  resolve: (covered: boolean) => void;
}

/** remote codes meaning "that value is taken": LDAP entryAlreadyExists (68), SQLite, PostgreSQL and MariaDB unique keys */
const CONFLICT_CODES = new Set<string | number>([
  68,
  '68',
  'SQLITE_CONSTRAINT_UNIQUE',
  'SQLITE_CONSTRAINT_PRIMARYKEY',
  '23505',
  'ER_DUP_ENTRY',
  1062,
]);

export class Gateway {
  private waiters: Waiter[] = [];
  /** users holding a clear password not yet delivered → the directory sequence after it was written */
  private readonly undelivered = new Map<string, number>();

  constructor(
    private readonly engine: Engine,
    private readonly directory: Directory,
    private readonly connector: string,
    private readonly timeoutMs: number,
  ) {
    // Passwords left from before a restart wait for delivery like new ones.
    const seq = directory.currentSequence();
    for (const { id } of directory.clearPasswords()) this.undelivered.set(id, seq);
  }

  /** Call after every engine cycle. */
  async cycleDone(): Promise<void> {
    const watermark = Number((await this.engine.store.getWatermark(this.connector)) ?? 0);
    await this.dropDelivered(watermark);
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (watermark >= w.seq) w.resolve(true);
      else still.push(w);
    }
    this.waiters = still;
  }

  /** Stops every wait (the server is closing): writes answer as accepted. */
  close(): void {
    for (const w of this.waiters) w.resolve(false);
    this.waiters = [];
  }

  readonly afterWrite: AfterWrite = async ({ id, op }) => {
    const seq = this.directory.currentSequence();
    if (op !== 'delete' && this.clearPassword(id) !== undefined) this.undelivered.set(id, seq);
    const covered = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, this.timeoutMs);
      const waiter: Waiter = {
        seq,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
      };
      this.waiters.push(waiter);
    });
    // Not carried through in time: the write stands in the directory and the engine keeps retrying it.
    if (!covered || op === 'delete') return;
    const failure = await this.failure(id);
    if (!failure) return;
    if (op === 'create') {
      // A create the target refused leaves nothing behind, so the client's retry is a clean create again.
      try {
        this.directory.delete(id);
      } catch {
        // already gone
      }
    }
    throw failure;
  };

  private clearPassword(id: string): string | undefined {
    const value = this.directory.get(id, { members: false })?.attributes.password?.[0];
    return typeof value === 'string' && !isPasswordHash(value) ? value : undefined;
  }

  /**
   * Removes from the directory each password the engine has carried as far as the rules take it: the
   * import covered it, the user has no error, and none of its target objects waits for an export.
   */
  private async dropDelivered(watermark: number): Promise<void> {
    const store = this.engine.store;
    for (const [id, seq] of this.undelivered) {
      if (watermark < seq) continue;
      const password = this.clearPassword(id);
      if (password === undefined) {
        this.undelivered.delete(id);
        continue;
      }
      if ((await store.errors(this.connector)).some((e) => e.key === id)) continue;
      const cs = (await store.csByAnchors(this.connector, [id])).get(id);
      if (!cs) continue;
      let waiting = false;
      for (const target of cs.mvId ? await store.csByMv([cs.mvId]) : []) {
        if (target.connector === this.connector) continue;
        if (target.anchor === null || (await store.pendingByCs(target.id)) !== null) waiting = true;
      }
      if (waiting) continue;
      try {
        // Only the value that was delivered: a new password written meanwhile waits for its own delivery.
        if (this.clearPassword(id) === password) this.directory.update(id, { password: { replace: [] } });
        this.undelivered.delete(id);
      } catch {
        // the user was deleted meanwhile, or the directory is busy: the next cycle looks again
      }
    }
  }

  /** The first error recorded for the object: its own sync, or the export to one of its targets. */
  private async failure(id: string): Promise<ScimError | undefined> {
    const store = this.engine.store;
    const own = (await store.errors(this.connector)).find((e) => e.key === id);
    if (own) return toScimError(this.connector, own);
    const cs = (await store.csByAnchors(this.connector, [id])).get(id);
    if (!cs?.mvId) return undefined;
    for (const target of await store.csByMv([cs.mvId])) {
      if (target.connector === this.connector) continue;
      const pending = await store.pendingByCs(target.id);
      if (pending?.state === 'error' && pending.lastError)
        return toScimError(target.connector, pending.lastError);
    }
    return undefined;
  }
}

function toScimError(connector: string, error: ObjectErrorInfo): ScimError {
  const detail = redact(
    `${connector}: ${error.message}${error.attribute ? ` (attribute ${error.attribute})` : ''}`,
  );
  const conflict =
    (error.remoteCode !== undefined && CONFLICT_CODES.has(error.remoteCode)) ||
    /UNIQUE|ALREADY_EXISTS|DUPLICATE/i.test(error.code) ||
    /already exists|duplicate|uniqueness|unique constraint/i.test(error.message);
  if (conflict) return new ScimError(409, 'uniqueness', detail);
  // the target is down or busy: the client should try again later
  if (error.retryable) return new ScimError(503, undefined, detail);
  return new ScimError(400, 'invalidValue', detail);
}
