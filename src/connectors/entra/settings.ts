/**
 * The `entra` connector's settings, validated when the config loads. The client secret arrives already
 * resolved from `${env:}` / `${file:}` and registered for redaction; the connector registers it again in
 * every form it sends it.
 */
import { z } from 'zod';

/**
 * Microsoft's national clouds: the sign-in authority and the Graph host of each.
 * https://learn.microsoft.com/graph/deployments (microsoft-graph-docs-contrib: concepts/deployments.md)
 */
export const CLOUDS = {
  global: { authority: 'https://login.microsoftonline.com', graph: 'https://graph.microsoft.com' },
  usgov: { authority: 'https://login.microsoftonline.us', graph: 'https://graph.microsoft.us' },
  'usgov-dod': { authority: 'https://login.microsoftonline.us', graph: 'https://dod-graph.microsoft.us' },
  china: { authority: 'https://login.chinacloudapi.cn', graph: 'https://microsoftgraph.chinacloudapi.cn' },
} as const;

const httpUrl = z.url().refine((u) => /^https?:\/\//i.test(u), 'an http:// or https:// URL');

const certificate = z.strictObject({
  /** PEM file of the private key (PKCS#8 or PKCS#1 RSA), relative to the config file */
  key: z.string().min(1),
  /** PEM file of the certificate uploaded to the app registration: its thumbprint goes in the assertion header */
  cert: z.string().min(1),
  /** the key's password when the PEM is encrypted */
  passphrase: z.string().optional(),
});

const attributeList = z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_.]*$/, 'a Graph property name such as employeeType')).default([]);

export const entraSettingsSchema = z
  .strictObject({
    /** the directory (tenant) id, or a verified domain of the tenant */
    tenantId: z.string().min(1),
    /** the application (client) id of the app registration */
    clientId: z.string().min(1),
    /** a client secret of the app registration; or `certificate` */
    clientSecret: z.string().min(1).optional(),
    /** a certificate credential: a client-assertion JWT signed with its key */
    certificate: certificate.optional(),
    /** the national cloud: where to sign in and which Graph host to call */
    cloud: z.enum(['global', 'usgov', 'usgov-dod', 'china']).default('global'),
    /** overrides the cloud's sign-in authority (https://login.microsoftonline.com) */
    authority: httpUrl.optional(),
    /** overrides the cloud's Graph host (https://graph.microsoft.com); the connector appends /v1.0 */
    graphUrl: httpUrl.optional(),
    /** seconds before a request is abandoned */
    timeout: z.number().positive().max(600).default(60),
    /** requests in flight at once */
    concurrency: z.number().int().min(1).max(32).default(4),
    /**
     * Requests per second to this tenant (a token bucket shared by every entra connector of the tenant in
     * this process). Graph's identity limits are per tenant and per app; 0: no pacing (Retry-After still honoured).
     */
    rateLimit: z.number().min(0).default(20),
    /** attempts of one request inside one call, for 429, 5xx and timeouts */
    maxAttempts: z.number().int().min(1).max(10).default(5),
    /** a Retry-After longer than this (seconds) ends the attempts; the change is retried in a later cycle */
    maxRetryAfter: z.number().min(0).default(120),
    /**
     * Seconds Graph may take before an object just written is readable everywhere (replication). A lookup
     * that finds nothing is trusted only this long after the connector's last create; reference writes that
     * name an object this long after it was created are retried on 404.
     */
    consistencyWait: z.number().min(0).max(300).default(20),
    /** requests per JSON $batch (Graph's limit is 20) */
    batchSize: z.number().int().min(1).max(20).default(20),
    /** members added per PATCH with members@odata.bind (Graph's limit is 20) */
    memberBatchSize: z.number().int().min(1).max(20).default(20),
    /** restore a soft-deleted user (deletedItems) whose restoreMatch attribute equals a user to create */
    restoreDeleted: z.boolean().default(true),
    restoreMatch: z.string().min(1).default('onPremisesImmutableId'),
    /** attributes looked up, in order, when a create may have been applied (timeout) or hit a uniqueness conflict */
    match: z
      .strictObject({
        user: z.array(z.string().min(1)).default(['onPremisesImmutableId', 'userPrincipalName']),
        group: z.array(z.string().min(1)).default(['mailNickname']),
      })
      .default({ user: ['onPremisesImmutableId', 'userPrincipalName'], group: ['mailNickname'] }),
    /** a created user must change the initial password at first sign-in */
    forceChangePasswordNextSignIn: z.boolean().default(false),
    /** the app id (without dashes) owning directory extensions: attributes extension_<appId>_<name> */
    extensionAppId: z
      .string()
      .regex(/^[0-9a-fA-F-]{32,36}$/, 'an application (client) id')
      .transform((s) => s.replace(/-/g, '').toLowerCase())
      .optional(),
    /** directory extension names registered on extensionAppId, e.g. [costCenter] */
    extensions: z.array(z.string().regex(/^[A-Za-z0-9_]+$/)).default([]),
    /** more user and group properties to read and write, beyond the built-in ones */
    userAttributes: attributeList,
    groupAttributes: attributeList,
  })
  .superRefine((s, ctx) => {
    if (!s.clientSecret === !s.certificate) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one credential: clientSecret or certificate', path: ['clientSecret'] });
    }
    if (s.extensions.length > 0 && !s.extensionAppId) {
      ctx.addIssue({ code: 'custom', message: 'extensions need extensionAppId (the app that registered them)', path: ['extensionAppId'] });
    }
  });

export type EntraSettings = z.infer<typeof entraSettingsSchema>;

/** The sign-in authority and the Graph v1.0 base of these settings, without trailing slashes. */
export function endpoints(s: EntraSettings): { authority: string; graphOrigin: string; graphBase: string; tokenUrl: string; scope: string } {
  const cloud = CLOUDS[s.cloud];
  const authority = (s.authority ?? cloud.authority).replace(/\/+$/, '');
  const graphOrigin = (s.graphUrl ?? cloud.graph).replace(/\/+$/, '');
  return {
    authority,
    graphOrigin,
    graphBase: `${graphOrigin}/v1.0`,
    tokenUrl: `${authority}/${encodeURIComponent(s.tenantId)}/oauth2/v2.0/token`,
    // the client credentials grant asks for the resource's static permissions: {resource}/.default
    scope: `${graphOrigin}/.default`,
  };
}
