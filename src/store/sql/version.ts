/**
 * The schema version this idsync writes, one number for both stores (meta 'schema'). A store opened on a
 * higher version refuses it (errors.ts schemaTooNew): a node of an older idsync never writes a newer schema.
 */
export const SCHEMA_VERSION = 4;
