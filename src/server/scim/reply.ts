/** How every SCIM response is sent, by the routes and by the server's error and not-found handlers. */
import type { FastifyReply } from 'fastify';

/** RFC 7644 §8.1 registers the media type without parameters; JSON is UTF-8 (RFC 8259 §8.1) anyway. */
export const SCIM_CONTENT_TYPE = 'application/scim+json';

export function sendScim(
  reply: FastifyReply,
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): FastifyReply {
  reply.code(status).header('content-type', SCIM_CONTENT_TYPE);
  if (headers) for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  // fastify appends "; charset=utf-8" to a JSON media type when the payload is a string; a Buffer goes as it is
  return reply.send(body === undefined ? undefined : Buffer.from(JSON.stringify(body)));
}
