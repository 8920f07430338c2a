/**
 * idsync's built-in directory: users and groups modelled on SCIM 2.0, in one SQLite file.
 */
export { DIRECTORY_SCHEMA, type ObjectType } from './attributes.js';
export {
  type ChangesPage,
  Directory,
  type DirectoryChange,
  type DirectoryCounts,
  type DirectoryObject,
  type DirectoryOptions,
  type ListOptions,
  type MemberSummary,
  type ReadOptions,
  type WriteOptions,
  type WriteResult,
} from './directory.js';
export { DirectoryError, type DirectoryErrorCode } from './errors.js';
export { openSharedDirectory, type SharedDirectory } from './shared.js';
