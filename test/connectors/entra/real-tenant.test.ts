/**
 * The same behaviour suite as against the emulator, against a real Microsoft Entra tenant. It runs only
 * when these are set (an app registration with the application permissions User.ReadWrite.All,
 * Group.ReadWrite.All and Directory.ReadWrite.All, admin-consented):
 *
 *   IDSYNC_ENTRA_TENANT         tenant id or its onmicrosoft.com domain
 *   IDSYNC_ENTRA_CLIENT_ID      the app's client id
 *   IDSYNC_ENTRA_CLIENT_SECRET  a client secret of the app
 *   IDSYNC_ENTRA_DOMAIN         (optional) a verified domain for test UPNs; default: the tenant value when it is a domain
 *   IDSYNC_ENTRA_CLOUD          (optional) global, usgov, usgov-dod or china
 *
 * It creates users idsync-<run>-* and a group, and deletes them at the end (deleted users stay 30 days in
 * the tenant's deleted items). Without the variables it is skipped, and says so: the only skipped test.
 */
import { describe, it } from 'vitest';
import { behaviourSuite } from './suite.js';

const tenant = process.env.IDSYNC_ENTRA_TENANT;
const clientId = process.env.IDSYNC_ENTRA_CLIENT_ID;
const secret = process.env.IDSYNC_ENTRA_CLIENT_SECRET;
const configured = Boolean(tenant && clientId && secret);
const domain = process.env.IDSYNC_ENTRA_DOMAIN ?? (tenant?.includes('.') ? tenant : undefined);

describe('entra connector against a real tenant', () => {
  if (!configured) {
    it.skip('SKIPPED: set IDSYNC_ENTRA_TENANT, IDSYNC_ENTRA_CLIENT_ID and IDSYNC_ENTRA_CLIENT_SECRET to run the behaviour suite against a real tenant', () => {});
    return;
  }
  if (!domain) throw new Error('set IDSYNC_ENTRA_DOMAIN to a verified domain of the tenant (IDSYNC_ENTRA_TENANT is not a domain)');
  behaviourSuite(() => ({
    settings: (extra) => ({ tenantId: tenant, clientId, clientSecret: secret, cloud: process.env.IDSYNC_ENTRA_CLOUD ?? 'global', consistencyWait: 30, ...extra }),
    domain,
    patience: 120_000,
    secret: secret!,
  }));
});
