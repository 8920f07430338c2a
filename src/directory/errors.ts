import { IdsyncError } from '../core/errors.js';

export type DirectoryErrorCode =
  /** no object with that id (or it is not of the expected type) */
  | 'DIRECTORY_NOT_FOUND'
  /** another user already has this userName (compared case-insensitively) */
  | 'DIRECTORY_UNIQUENESS'
  /** `ifVersion` did not match the object's current version (SCIM: 412 Precondition Failed) */
  | 'DIRECTORY_VERSION_CONFLICT'
  /** a value of the wrong type or count, a missing required attribute, an attribute the type cannot have */
  | 'DIRECTORY_INVALID_VALUE'
  /** a member reference names no object, or the group itself */
  | 'DIRECTORY_INVALID_MEMBER'
  /** the database file was written by a newer idsync */
  | 'DIRECTORY_SCHEMA_TOO_NEW';

export class DirectoryError extends IdsyncError {
  override readonly name = 'DirectoryError';
  declare readonly code: DirectoryErrorCode;
  constructor(
    code: DirectoryErrorCode,
    message: string,
    place: { anchor?: string; attribute?: string } = {},
  ) {
    super(code, message, place);
  }
}
