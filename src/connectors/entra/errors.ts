/**
 * The `entra` connector's error codes. Codes are never renamed: scripts and the API match on them.
 */
export const ENTRA_ERROR_CODES = [
  /** the token endpoint could not be reached */
  'ENTRA_TOKEN_UNREACHABLE',
  /** the token endpoint refused the client secret or the certificate assertion */
  'ENTRA_TOKEN_REFUSED',
  /** the certificate or its private key could not be read or used */
  'ENTRA_CERTIFICATE_INVALID',
  /** 429 after the attempts of one call, or a Retry-After longer than maxRetryAfter */
  'ENTRA_THROTTLED',
  /** 5xx after the attempts of one call */
  'ENTRA_SERVER_ERROR',
  'ENTRA_TIMEOUT',
  /** the connection dropped after the request was sent: it may have been applied */
  'ENTRA_CONNECTION_LOST',
  /** several connections refused in a row: the rest of the call fails fast */
  'ENTRA_UNREACHABLE',
  'ENTRA_ABORTED',
  /** 401/403: the app lacks a permission (User.ReadWrite.All, Group.ReadWrite.All, ...) */
  'ENTRA_UNAUTHORIZED',
  /** any other refusal of a read */
  'ENTRA_REQUEST_REFUSED',
  /** the delta link expired or Graph asked for a resync (410 Gone, syncStateNotFound): a full import follows */
  'ENTRA_DELTA_EXPIRED',
  /** the stored watermark is not one this connector wrote, or points at another host */
  'ENTRA_WATERMARK_INVALID',
  /** a 400 that names a property: an object error on that attribute */
  'ENTRA_ATTRIBUTE_INVALID',
  /** an attribute Graph does not let an application write (mail, proxyAddresses, onPremises* of synced objects) */
  'ENTRA_ATTRIBUTE_READONLY',
  /** a 400 that names no property */
  'ENTRA_BAD_REQUEST',
  /** a unique property (userPrincipalName, onPremisesImmutableId, mailNickname) is held by another object */
  'ENTRA_CONFLICT',
  'ENTRA_NOT_FOUND',
  'ENTRA_UNKNOWN_OBJECT_TYPE',
  /** Graph created an object but returned no id */
  'ENTRA_NO_ID',
  /** a create may have been applied and its object could not be found within consistencyWait: retried later */
  'ENTRA_CREATE_UNCONFIRMED',
  /** a create found several objects with its match attributes */
  'ENTRA_AMBIGUOUS_MATCH',
  'ENTRA_EXPORT_FAILED',
  'ENTRA_IMPORT_FAILED',
] as const;

export type EntraErrorCode = (typeof ENTRA_ERROR_CODES)[number];
