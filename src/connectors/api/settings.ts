/**
 * The `api` connector's settings: where its records live, what a record's anchor is, the limits of its push
 * endpoint (modelled on Microsoft Entra's API-driven inbound provisioning) and the custom attributes it takes.
 */
import { z } from 'zod';

const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 5s, 1h or 30d');

/** RFC 7643 attribute types a custom extension attribute may have (no complex ones: Entra's list is flat). */
const attributeType = z.enum(['string', 'boolean', 'integer', 'decimal', 'dateTime', 'reference']);

const customAttribute = z.union([
  attributeType,
  z.strictObject({ type: attributeType.default('string'), multiValued: z.boolean().default(false) }),
]);

export const apiSettings = z.strictObject({
  /** the SQLite file holding the pushed records; relative to the config file. Default: STATE/inbound/NAME.db */
  path: z.string().min(1).optional(),
  /**
   * The attribute (a SCIM path) whose value identifies a person across pushes: the connector-space anchor, and
   * what `manager.value` names. Entra's default matching attribute is externalId.
   */
  anchor: z.string().min(1).default('externalId'),
  /** operations per bulkUpload request (Entra: 50) */
  maxOperations: z.number().int().positive().max(1000).default(50),
  /** the largest request body, bytes */
  maxPayloadSize: z.number().int().positive().max(64 * 1024 * 1024).default(1_048_576),
  /**
   * Requests per token: `requests` per `per` (Entra: 40 per 5 s), and at most `daily` per 24 hours (Entra:
   * 6,000; 0 = no daily limit). Exceeded: 429 with Retry-After.
   */
  rateLimit: z
    .strictObject({
      requests: z.number().int().positive().default(40),
      per: duration.default('5s'),
      daily: z.number().int().min(0).default(6000),
    })
    .prefault({}),
  /**
   * The scope (or app role) an OAuth 2 access token needs to push: Entra's application permission by
   * default. false: any token the server accepts (serve.auth.jwt).
   */
  scope: z.union([z.string().min(1), z.literal(false)]).default('SynchronizationData-User.Upload'),
  /**
   * Custom extension attributes (Entra's "Edit attribute list for API"): schema URN → attribute name → type.
   * The core User and enterprise User attributes need no listing.
   */
  extensions: z.record(z.string().regex(/^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+$/, 'a schema URN such as urn:ietf:params:scim:schemas:extension:contoso:1.0:User'), z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'an attribute name'), customAttribute)).default({}),
  /**
   * An attribute no schema above defines: `ignore` (accepted, not kept, listed as a warning in the results;
   * what Entra does with attributes its list lacks) or `reject` (the record fails naming it).
   */
  unknownAttributes: z.enum(['ignore', 'reject']).default('ignore'),
  /** how long per-request results stay readable at their Location (Entra keeps provisioning logs 30 days) */
  keepResults: duration.default('30d'),
});

export type ApiSettings = z.infer<typeof apiSettings>;

export function durationToMs(value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value)!;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
