import { IdsyncError } from '../core/errors.js';

export type StoreErrorCode =
  /** the state was written by a newer idsync (its schema version is above this one's): upgrade this node */
  | 'STATE_SCHEMA_TOO_NEW'
  /** `state.url` is not a URL this idsync can open (postgres://user@host:5432/db) */
  | 'STATE_URL_INVALID'
  /** the database could not be reached or refused the connection */
  | 'STATE_UNREACHABLE'
  /** this process lost the cycle lease to another (it stopped renewing it): its transaction was rolled back */
  | 'STATE_LEASE_LOST'
  /** another process holds the state's cycle lease (a state cannot be moved while a cycle may write it) */
  | 'STATE_BUSY'
  /** a state move's target holds a state already, and --force was not given */
  | 'STATE_TARGET_NOT_EMPTY'
  /** a state move's verification found the copy different from the source (counts or checksums) */
  | 'STATE_COPY_MISMATCH';

export class StoreError extends IdsyncError {
  override readonly name = 'StoreError';
  declare readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, {}, options);
  }
}

/** The message a node gives for a state whose schema is newer than it knows. */
export function schemaTooNew(where: string, stored: number, known: number): StoreError {
  return new StoreError(
    'STATE_SCHEMA_TOO_NEW',
    `the state in ${where} has schema version ${stored}, written by a newer idsync; this one knows versions up to ${known}. Upgrade idsync on this node (every node on one state must run the same version or newer).`,
  );
}
