/**
 * The `scim` connector's settings, validated when the config loads. Secrets (tokens, client secrets,
 * passwords) arrive here already resolved from `${env:}` / `${file:}` and registered for redaction.
 */
import { z } from 'zod';
import { USER_SCHEMA, GROUP_SCHEMA } from '../../scim/index.js';
import { pathProblem } from './paths.js';

/** An attribute name in Entra's mapping syntax, checked when the config loads (the message names it). */
const attributeName = z
  .string()
  .min(1)
  .superRefine((name, ctx) => {
    const problem = pathProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const auth = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('bearer'), token: z.string().min(1) }),
  z.strictObject({ type: z.literal('basic'), username: z.string().min(1), password: z.string() }),
  z.strictObject({
    type: z.literal('oauth2'),
    /** the token endpoint (client credentials grant, RFC 6749 section 4.4) */
    tokenUrl: z.url(),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    scope: z.string().optional(),
    /** some providers (Entra, Auth0) want the resource or audience as an extra form field */
    audience: z.string().optional(),
    resource: z.string().optional(),
    /** how the client authenticates to the token endpoint: HTTP Basic (the RFC's default) or form fields */
    clientAuth: z.enum(['basic', 'post']).default('basic'),
  }),
]);

const tls = z.strictObject({
  /** PEM file(s) of the certificate authorities to trust, relative to the config file */
  ca: z.string().optional(),
  /** client certificate and key (PEM files) for mutual TLS */
  cert: z.string().optional(),
  key: z.string().optional(),
  /** false accepts any server certificate: for a lab only (a warning is logged) */
  rejectUnauthorized: z.boolean().default(true),
});

const objectType = z.strictObject({
  /** the resource endpoint relative to the base URL */
  endpoint: z.string().regex(/^\/[^?#]*$/, 'a path such as /Users'),
  /** the core schema URN of the resource */
  schema: z.string().min(1),
  /** attributes (in Entra syntax) tried in order before a create: the first that finds one object links it */
  match: z.array(attributeName).default([]),
});

/** `auto`: use the feature when /ServiceProviderConfig says the server supports it; true/false: force. */
const feature = z.union([z.literal('auto'), z.boolean()]).default('auto');

const compat = z
  .strictObject({
    patch: feature,
    bulk: feature,
    filter: feature,
    etag: feature,
    /** send booleans as "True"/"False" strings (servers built for an early Entra) */
    booleansAsStrings: z.boolean().default(false),
    /** single-valued replaces as one operation without a path: { op: replace, value: { attr: v } } */
    patchWithoutPath: z.boolean().default(false),
    /** op names "Add", "Replace", "Remove" instead of the RFC's lower case */
    capitalizedOps: z.boolean().default(false),
    /** remove members by `members[value eq "id"]` paths (RFC) or by a value list (Entra: path members, value [{value}]) */
    memberRemoval: z.enum(['filter', 'value-list']).default('filter'),
    /** filtered paths such as emails[type eq "work"].value (Entra) or a replace of the whole multi-valued attribute */
    filteredPaths: z.boolean().default(true),
    /** the manager as a plain id string in PATCH values (Entra does this) instead of { value: id } */
    managerAsString: z.boolean().default(false),
  })
  .default({
    patch: 'auto',
    bulk: 'auto',
    filter: 'auto',
    etag: 'auto',
    booleansAsStrings: false,
    patchWithoutPath: false,
    capitalizedOps: false,
    memberRemoval: 'filter',
    filteredPaths: true,
    managerAsString: false,
  });

export const scimSettingsSchema = z.strictObject({
  /** the SCIM base URL, e.g. https://app.example.com/scim/v2 */
  url: z.url().refine((u) => /^https?:/i.test(u), 'the SCIM base URL must be http:// or https://'),
  auth: auth.default({ type: 'none' }),
  tls: tls.optional(),
  /** seconds before a request is abandoned (and retried, for the safe ones) */
  timeout: z.number().positive().max(600).default(30),
  /** requests in flight at once to this target */
  concurrency: z.number().int().min(1).max(64).default(4),
  /** requests per second to this target (token bucket); 0: no limit */
  rateLimit: z.number().min(0).default(0),
  /** attempts of one request inside one export or import, for retryable failures (429, 5xx, timeouts) */
  maxAttempts: z.number().int().min(1).max(10).default(4),
  /** a Retry-After longer than this (seconds) ends the attempts; the change is retried in a later cycle */
  maxRetryAfter: z.number().min(0).default(120),
  /** members added or removed per PATCH request (Entra sends 100) */
  memberBatchSize: z.number().int().min(1).max(10_000).default(100),
  /** look for an existing object by the match attributes before every create (Entra does) */
  matchBeforeCreate: z.boolean().default(true),
  /** operations per Bulk request when the server offers Bulk (bounded by its maxOperations) */
  bulkSize: z.number().int().min(1).max(1000).default(50),
  /** seconds a delta import re-reads before its watermark (the server's meta.lastModified) */
  deltaOverlap: z.number().min(0).default(60),
  /**
   * Hours after which a delta import becomes a full one: SCIM cannot list deletions, so a full listing is the
   * only way to notice objects deleted in the target. 0: only when the engine asks (fullImportInterval).
   */
  fullImportEvery: z.number().min(0).default(24),
  /** extra filtered paths to read back on import, e.g. roles[primary eq true].value */
  importPaths: z.array(attributeName).default([]),
  userType: objectType.default({ endpoint: '/Users', schema: USER_SCHEMA, match: ['userName', 'externalId', 'emails[type eq "work"].value'] }),
  groupType: objectType.default({ endpoint: '/Groups', schema: GROUP_SCHEMA, match: ['displayName', 'externalId'] }),
  compat,
});

export type ScimSettings = z.infer<typeof scimSettingsSchema>;
export type ScimObjectTypeSettings = ScimSettings['userType'];
