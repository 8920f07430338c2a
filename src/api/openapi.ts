/**
 * The admin API as an OpenAPI 3.1 document, generated from the route list (routes.ts) with z.toJSONSchema:
 * the schemas published are the ones the server validates with. Served at GET /api/v1/openapi.json;
 * `npm run openapi` writes docs/openapi.json, and a test fails when that file is stale.
 */
import { z } from 'zod';
import { VERSION } from '../core/version.js';
import { type ApiCode, API_CODES, statusOf } from './errors.js';
import type { RouteDef } from './route.js';
import { ROUTES } from './routes.js';
import { errorSchema } from './schemas.js';

type Json = Record<string, unknown>;

const toSchema = (schema: z.ZodType, io: 'input' | 'output'): Json => {
  const s = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  delete s.$schema;
  return s;
};

let cached: Json | undefined;

export function openApiDocument(): Json {
  cached ??= build();
  return cached;
}

function build(): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const [id, def] of Object.entries(ROUTES) as [string, RouteDef][]) {
    const path = `/api/v1${def.path.replace(/:(\w+)/g, '{$1}')}`;
    paths[path] ??= {};
    paths[path][def.method.toLowerCase()] = operation(id, def);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'idsync admin API',
      version: VERSION,
      description:
        'The admin API of `idsync serve` (docs/api.md). Log in with POST /api/v1/session (a session cookie; writes then send the x-idsync-csrf header) or send an API token as Authorization: Bearer. Roles: reader < operator < admin. Errors: ' +
        API_CODES.map((c: ApiCode) => `${c} (${statusOf(c)})`).join(', '),
    },
    servers: [{ url: '/' }],
    tags: [...new Set(Object.values(ROUTES).map((r) => r.tag))].map((name) => ({ name })),
    components: {
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'idsync_session' },
        bearer: { type: 'http', scheme: 'bearer', description: 'an API token (`idsync token create NAME --role ROLE`)' },
      },
      schemas: { Error: toSchema(errorSchema, 'output') },
    },
    paths,
  };
}

function operation(id: string, def: RouteDef): Json {
  const parameters: Json[] = [];
  for (const [where, schema] of [['path', def.params], ['query', def.query]] as const) {
    if (!schema) continue;
    const js = toSchema(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, prop] of Object.entries(js.properties ?? {})) {
      const { description, ...rest } = prop as Json;
      parameters.push({
        name,
        in: where,
        required: where === 'path' || (js.required ?? []).includes(name),
        ...(description !== undefined && { description }),
        schema: rest,
      });
    }
  }
  const responses: Json = {};
  for (const [status, schema] of Object.entries(def.responses)) {
    responses[status] = def.stream
      ? { description: 'a stream of Server-Sent Events', content: { [def.stream]: { schema: { type: 'string' } } } }
      : { description: 'success', content: { 'application/json': { schema: toSchema(schema, 'output') } } };
  }
  const errors = ['400', ...(def.role === 'public' ? [] : ['401', '403']), ...(def.params ? ['404'] : []), ...(def.path === '/session' && def.method === 'POST' ? ['401', '429'] : []), '500'];
  for (const status of errors) responses[status] = { description: 'an error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  return {
    operationId: id,
    summary: def.summary,
    tags: [def.tag],
    ...(def.role === 'public' ? { security: [] } : { security: [{ session: [] }, { bearer: [] }], 'x-idsync-role': def.role }),
    ...(parameters.length > 0 && { parameters }),
    ...(def.body && { requestBody: { required: true, content: { 'application/json': { schema: toSchema(def.body, 'input') } } } }),
    responses,
  };
}
