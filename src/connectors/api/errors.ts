/**
 * The codes of the `api` connector and its push endpoint (src/server/inbound/). Stable: scripts and the
 * per-record results match on them; never rename one.
 */
export const API_CODES = [
  /** an operation or its data is not shaped as a bulkUpload operation (no method, data not an object) */
  'API_OPERATION_INVALID',
  /** the method is not POST (upsert) or DELETE, or the path is not /Users */
  'API_OPERATION_UNSUPPORTED',
  /** the record has no usable anchor (externalId by default) */
  'API_ANCHOR_MISSING',
  /** a value does not fit its attribute (a string where an object belongs, a bad date, a second primary) */
  'API_ATTRIBUTE_INVALID',
  /** an attribute outside the core User, enterprise and declared extension schemas (unknownAttributes: reject) */
  'API_ATTRIBUTE_UNKNOWN',
  /** the records file cannot be read or written */
  'API_STORE_UNAVAILABLE',
  /** the engine's watermark is not one of this store's sequence numbers */
  'API_WATERMARK_INVALID',
  /** the watermark is ahead of the store (the file was replaced by an older copy) */
  'API_WATERMARK_AHEAD',
] as const;

export type ApiCode = (typeof API_CODES)[number];

/** One problem of one record, as the results and the 400 body list it. */
export interface RecordIssue {
  code: ApiCode;
  message: string;
  /** the attribute (a SCIM path: name.givenName, urn:...:department), or the operation's field */
  path?: string;
  retryable: false;
}
