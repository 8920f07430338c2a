/**
 * /ServiceProviderConfig, /Schemas and /ResourceTypes (RFC 7644 §4, RFC 7643 §5-7): built from the same
 * schema set and limits the service runs on, so they say what the server really does.
 */
import { VERSION } from '../../core/version.js';
import { ScimError } from '../../scim/errors.js';
import { LIST_RESPONSE_SCHEMA } from '../../scim/messages.js';
import { RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA, type SchemaSet } from '../../scim/schemas.js';

export const SERVICE_PROVIDER_CONFIG = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';

export interface Limits {
  maxResults: number;
  bulk: { maxOperations: number; maxPayloadSize: number };
  jwt: boolean;
}

export function serviceProviderConfig(base: string, limits: Limits): Record<string, unknown> {
  const schemes: Record<string, unknown>[] = [
    {
      type: 'oauthbearertoken',
      name: 'Bearer token',
      description: 'A token made with `idsync token create`, sent as Authorization: Bearer <token>',
      specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
      primary: true,
    },
  ];
  if (limits.jwt) {
    schemes.push({
      type: 'oauth2',
      name: 'OAuth 2.0 access token',
      description: 'A JWT access token from the configured identity provider',
      specUri: 'https://www.rfc-editor.org/rfc/rfc9068',
    });
  }
  return {
    schemas: [SERVICE_PROVIDER_CONFIG],
    documentationUri: 'https://github.com/idsync/idsync/blob/main/docs/scim.md',
    patch: { supported: true },
    bulk: {
      supported: true,
      maxOperations: limits.bulk.maxOperations,
      maxPayloadSize: limits.bulk.maxPayloadSize,
    },
    filter: { supported: true, maxResults: limits.maxResults },
    changePassword: { supported: true },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: schemes,
    // meta.version is an entity tag (RFC 7643 §3.1): idsync's version, which is what changes what is served here.
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig`, version: `W/"${VERSION}"` },
  };
}

export function schemaResources(base: string, set: SchemaSet): Record<string, unknown>[] {
  return set.schemas.map((s) => ({
    schemas: [SCHEMA_SCHEMA],
    ...s,
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${s.id}` },
  }));
}

export function resourceTypeResources(base: string, set: SchemaSet): Record<string, unknown>[] {
  return set.resourceTypes.map((rt) => ({
    schemas: [RESOURCE_TYPE_SCHEMA],
    ...rt,
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/${rt.id}` },
  }));
}

export function listOf(resources: Record<string, unknown>[]): Record<string, unknown> {
  return {
    schemas: [LIST_RESPONSE_SCHEMA],
    totalResults: resources.length,
    itemsPerPage: resources.length,
    startIndex: 1,
    Resources: resources,
  };
}

export function oneOf(
  resources: Record<string, unknown>[],
  id: string,
  what: string,
): Record<string, unknown> {
  const found = resources.find((r) => String(r.id).toLowerCase() === id.toLowerCase());
  if (!found) throw new ScimError(404, undefined, `no ${what} ${id}`);
  return found;
}
