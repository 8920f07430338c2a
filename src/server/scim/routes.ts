/**
 * SCIM routes (RFC 7644 §3): each parses its request (query parameters, ETag headers), calls the service,
 * and sends the result with its status, ETag and Location. Routes hold no logic of their own.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ScimEndpointConfig } from '../../config/schema.js';
import { redact } from '../../core/redact.js';
import { badRequest, ScimError } from '../../scim/errors.js';
import { LIST_RESPONSE_SCHEMA, SEARCH_REQUEST_SCHEMA } from '../../scim/messages.js';
import { runBulk } from './bulk.js';
import { listOf, oneOf, resourceTypeResources, schemaResources, serviceProviderConfig } from './discovery.js';
import { projectResource } from './protocol.js';
import { sendScim } from './reply.js';
import { etag } from './resources.js';
import type { QueryParams, ScimService, Written } from './service.js';

type Query = Record<string, string | string[] | undefined>;

export interface ScimEndpoint {
  config: ScimEndpointConfig;
  service: ScimService;
}

export function registerScimRoutes(
  app: FastifyInstance,
  endpoint: ScimEndpoint,
  options: { jwt: boolean },
): void {
  const { service, config } = endpoint;
  const base = (request: FastifyRequest) => `${request.protocol}://${request.host}${config.path}`;
  const limits = { maxResults: config.maxResults, bulk: config.bulk, jwt: options.jwt };

  const project = (resource: Record<string, unknown>, wanted: QueryParams) =>
    projectResource(
      resource,
      service.schemaOf(
        resource.meta && (resource.meta as { resourceType?: string }).resourceType === 'Group'
          ? 'Groups'
          : 'Users',
      ),
      wanted,
    );
  const sendWritten = (reply: FastifyReply, status: number, written: Written, wanted: QueryParams) =>
    sendWrittenProjected(reply, status, written, wanted, project);

  // RFC 7644 §4: discovery endpoints take no filter (a hook on their routes: the query string may name any path)
  const noFilter = { preHandler: refuseFilter };
  // RFC 7644 §3.11: /Me needs to know which resource the token stands for; tokens here stand for clients
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const) {
    app.route({
      method,
      url: '/Me',
      handler: async () => {
        throw new ScimError(
          501,
          undefined,
          '/Me is not supported: tokens identify provisioning clients, not users',
        );
      },
    });
  }

  app.get('/ServiceProviderConfig', noFilter, async (request, reply) =>
    sendScim(reply, 200, serviceProviderConfig(base(request), limits)),
  );
  app.get('/Schemas', noFilter, async (request, reply) =>
    sendScim(reply, 200, listOf(schemaResources(base(request), service.schemas))),
  );
  app.get('/Schemas/:id', noFilter, async (request, reply) =>
    sendScim(
      reply,
      200,
      oneOf(schemaResources(base(request), service.schemas), (request.params as { id: string }).id, 'schema'),
    ),
  );
  app.get('/ResourceTypes', noFilter, async (request, reply) =>
    sendScim(reply, 200, listOf(resourceTypeResources(base(request), service.schemas))),
  );
  app.get('/ResourceTypes/:id', noFilter, async (request, reply) =>
    sendScim(
      reply,
      200,
      oneOf(
        resourceTypeResources(base(request), service.schemas),
        (request.params as { id: string }).id,
        'resource type',
      ),
    ),
  );

  for (const kind of ['Users', 'Groups'] as const) {
    app.get(`/${kind}`, async (request, reply) =>
      sendScim(reply, 200, service.query(kind, queryParams(request.query as Query), base(request))),
    );

    app.post(`/${kind}/.search`, async (request, reply) =>
      sendScim(reply, 200, service.query(kind, searchParams(request.body), base(request))),
    );

    app.post(`/${kind}`, async (request, reply) => {
      const written = await service.create(kind, request.body, base(request));
      return sendWritten(reply, 201, written, projection(request.query as Query));
    });

    app.get(`/${kind}/:id`, async (request, reply) => {
      const id = (request.params as { id: string }).id;
      const written = service.get(kind, id, base(request), projection(request.query as Query));
      const noneMatch = request.headers['if-none-match'];
      if (noneMatch !== undefined && etagMatches(noneMatch, written.version)) {
        return reply.code(304).header('ETag', etag(written.version)).send();
      }
      return sendScim(reply, 200, written.resource, { ETag: etag(written.version) });
    });

    app.put(`/${kind}/:id`, async (request, reply) => {
      const id = (request.params as { id: string }).id;
      const written = await service.replace(
        kind,
        id,
        request.body,
        base(request),
        ifMatch(request, () => service.find(kind, id, false).version),
      );
      return sendWritten(reply, 200, written, projection(request.query as Query));
    });

    app.patch(`/${kind}/:id`, async (request, reply) => {
      const id = (request.params as { id: string }).id;
      const wanted = projection(request.query as Query);
      const written = await service.patch(
        kind,
        id,
        request.body,
        base(request),
        ifMatch(request, () => service.find(kind, id, false).version),
        { members: kind === 'Users' || wanted.attributes !== undefined },
      );
      // Entra asks for 204 on group PATCH (RFC 7644 §3.5.2 allows it): a group's members are not sent back
      if (kind === 'Groups' && wanted.attributes === undefined)
        return reply.code(204).header('ETag', etag(written.version)).send();
      return sendWritten(reply, 200, written, wanted);
    });

    app.delete(`/${kind}/:id`, async (request, reply) => {
      const id = (request.params as { id: string }).id;
      await service.delete(
        kind,
        id,
        ifMatch(request, () => service.find(kind, id, false).version),
      );
      return reply.code(204).send();
    });
  }

  // RFC 7644 §3.4.3: a search across every resource type — the users, then the groups, paged as one list
  app.post('/.search', async (request, reply) => {
    const params = searchParams(request.body);
    const startIndex = Math.max(1, params.startIndex ?? 1);
    const count = Math.min(Math.max(0, params.count ?? service.maxResults), service.maxResults);
    const users = service.query('Users', { ...params, startIndex, count }, base(request));
    const userTotal = users.totalResults as number;
    const resources = [...(users.Resources as unknown[])];
    // the groups' part of the page starts where the users end
    const groupStart = Math.max(1, startIndex - userTotal);
    const groups = service.query(
      'Groups',
      { ...params, startIndex: groupStart, count: count - resources.length },
      base(request),
    );
    resources.push(...(groups.Resources as unknown[]));
    return sendScim(reply, 200, {
      schemas: [LIST_RESPONSE_SCHEMA],
      totalResults: userTotal + (groups.totalResults as number),
      itemsPerPage: resources.length,
      startIndex,
      Resources: resources,
    });
  });

  app.post('/Bulk', { bodyLimit: config.bulk.maxPayloadSize }, async (request, reply) =>
    sendScim(
      reply,
      200,
      await runBulk(service, request.body, base(request), config.bulk.maxOperations, parseEtag, (err) =>
        request.log.error({ err: { message: redact((err as Error).message) } }, 'bulk operation failed'),
      ),
    ),
  );
}

async function refuseFilter(request: FastifyRequest): Promise<void> {
  if (param(request.query as Query, 'filter') !== undefined)
    throw new ScimError(403, undefined, 'the discovery endpoints do not support filtering');
}

function sendWrittenProjected(
  reply: FastifyReply,
  status: number,
  written: Written,
  wanted: QueryParams,
  project: (r: Record<string, unknown>, w: QueryParams) => Record<string, unknown>,
): FastifyReply {
  // the Location header is due whatever the projection leaves of meta (RFC 7644 §3.3)
  const meta = written.resource.meta as { location?: string } | undefined;
  if (wanted.attributes !== undefined || wanted.excludedAttributes !== undefined)
    written = { ...written, resource: project(written.resource, wanted) };
  const headers: Record<string, string> = { ETag: etag(written.version) };
  if (status === 201 && meta?.location) headers.Location = meta.location;
  return sendScim(reply, status, written.resource, headers);
}

/** If-Match (RFC 7232 §3.1): `*`, or one or more ETags of which one must be the current version. */
function ifMatch(request: FastifyRequest, current: () => number): number | undefined {
  const header = request.headers['if-match'];
  if (header === undefined) return undefined;
  const version = current();
  if (header.trim() === '*' || etagMatches(header, version)) return version;
  throw new ScimError(
    412,
    undefined,
    `If-Match ${header} does not match the current version ${etag(version)}`,
  );
}

function etagMatches(header: string, version: number): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => parseEtag(tag.trim()) === version);
}

/** W/"3" or "3" → 3 */
export function parseEtag(tag: string): number | undefined {
  const m = /^(?:W\/)?"(\d+)"$/.exec(tag.trim());
  return m ? Number(m[1]) : undefined;
}

// ---- query parameters -----------------------------------------------------------------------------------

/** Parameter names are matched without regard to case: clients differ (excludedAttributes, excludedattributes). */
function param(query: Query, name: string): string | undefined {
  const key = Object.keys(query).find((k) => k.toLowerCase() === name.toLowerCase());
  if (key === undefined) return undefined;
  const value = query[key];
  if (Array.isArray(value)) throw badRequest('invalidValue', `the ${name} parameter is given more than once`);
  return value;
}

function projection(query: Query): QueryParams {
  const attributes = param(query, 'attributes');
  const excluded = param(query, 'excludedAttributes');
  return {
    ...(attributes !== undefined && { attributes: list(attributes) }),
    ...(excluded !== undefined && { excludedAttributes: list(excluded) }),
  };
}

function queryParams(query: Query): QueryParams {
  return {
    ...projection(query),
    filter: param(query, 'filter'),
    sortBy: param(query, 'sortBy'),
    sortOrder: sortOrder(param(query, 'sortOrder')),
    startIndex: integer(param(query, 'startIndex'), 'startIndex'),
    count: integer(param(query, 'count'), 'count'),
  };
}

/** The body of POST /.search (RFC 7644 §3.4.3) as query parameters. */
function searchParams(body: unknown): QueryParams {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw badRequest('invalidSyntax', 'the body must be a SearchRequest message');
  const b = body as Record<string, unknown>;
  const schemas = b.schemas;
  if (schemas !== undefined && (!Array.isArray(schemas) || !schemas.includes(SEARCH_REQUEST_SCHEMA)))
    throw badRequest('invalidSyntax', `schemas must be ["${SEARCH_REQUEST_SCHEMA}"]`);
  const text = (name: string) => {
    const v = b[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw badRequest('invalidValue', `${name} must be a string`);
    return v;
  };
  const names = (name: string) => {
    const v = b[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return list(v);
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
      throw badRequest('invalidValue', `${name} must be an array of attribute names`);
    return v as string[];
  };
  const number = (name: string) => {
    const v = b[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= MAX_INTEGER) return v;
    if (typeof v === 'string') return integer(v, name);
    throw badRequest('invalidValue', `${name} must be an integer of at most 15 digits`);
  };
  return {
    attributes: names('attributes'),
    excludedAttributes: names('excludedAttributes'),
    filter: text('filter'),
    sortBy: text('sortBy'),
    sortOrder: sortOrder(text('sortOrder')),
    startIndex: number('startIndex'),
    count: number('count'),
  };
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * startIndex and count: at most 15 digits, so a value reaches SQLite as an exact integer (1e20 or 2^63 would
 * not bind as one) and no page arithmetic overflows.
 */
const MAX_INTEGER = 999_999_999_999_999;

function integer(text: string | undefined, name: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^-?\d{1,15}$/.test(text.trim()))
    throw badRequest('invalidValue', `${name} must be an integer of at most 15 digits, not ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
}

function sortOrder(text: string | undefined): 'ascending' | 'descending' | undefined {
  if (text === undefined || text === '') return undefined;
  const lower = text.toLowerCase();
  if (lower === 'ascending' || lower === 'descending') return lower;
  throw badRequest(
    'invalidValue',
    `sortOrder must be ascending or descending, not ${JSON.stringify(text.slice(0, 40))}`,
  );
}
