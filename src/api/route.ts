/**
 * What an admin API route is, as data: method, path, the zod schema of each request part and of each
 * response, and the role it needs. routes.ts lists them all; register.ts validates every request part
 * against them and openapi.ts publishes them, so the description cannot drift from what is checked.
 */
import type { z } from 'zod';
import type { Role } from '../store/accounts.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteDef {
  method: Method;
  /** under /api/v1, fastify style: /connectors/:name */
  path: string;
  summary: string;
  /** the OpenAPI tag (the portal's page) */
  tag: string;
  /** 'public': no authentication (logging in, the OpenAPI document) */
  role: Role | 'public';
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** each success status with its body; error bodies are common to every route (openapi.ts) */
  responses: Record<number, z.ZodType>;
  /** the answer is a stream of this media type (Server-Sent Events), not JSON */
  stream?: 'text/event-stream';
  /** what the audit entry names as the target; by default the path parameters */
  auditTarget?: (input: { params: Record<string, unknown>; body: Record<string, unknown> | undefined }) => string | null;
  /** writes are audited; reads are not unless this is true */
  audit?: boolean;
}

/** Declares a route keeping its literal types (so the handler's input and output are typed from the schemas). */
export function route<const R extends RouteDef>(def: R): R {
  return def;
}

type Infer<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface Input<R extends RouteDef> {
  params: Infer<R['params']>;
  query: Infer<R['query']>;
  body: Infer<R['body']>;
}

/** A body of one of the route's success statuses. */
export type Output<R extends RouteDef> = { [S in keyof R['responses']]: z.input<R['responses'][S]> }[keyof R['responses']];

/** Answers with a status other than the route's first. */
export interface Replied<B> {
  readonly replied: true;
  status: number;
  body: B;
}

export function reply<B>(status: number, body: B): Replied<B> {
  return { replied: true, status, body };
}
