/**
 * The three messages of the agent protocol (as JSON-RPC has them, without its version field): a request
 * numbered by the side that sends it, the response to it, and a notification that expects none. Each side
 * numbers its own requests, so the service's request 7 and the agent's request 7 are different requests: a
 * response answers a request of the side that receives it.
 */
import { z } from 'zod';

export const wirePlace = z
  .object({
    location: z.string().optional(),
    connector: z.string().optional(),
    anchor: z.string().optional(),
    attribute: z.string().optional(),
  })
  .strict();

/** An error as IdsyncError.toJSON gives it, plus whether the same request may succeed later. */
export const wireError = z
  .object({
    code: z.string().min(1),
    message: z.string(),
    retryable: z.boolean(),
    place: wirePlace.optional(),
    /** a connector's failure to reach its system (ConnectorError.connection) */
    connection: z.boolean().optional(),
    /** a delta import cannot go on from its watermark (ConnectorError.fullImportRequired) */
    fullImportRequired: z.boolean().optional(),
  })
  .strict();
export type WireError = z.infer<typeof wireError>;

const requestId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const requestMessage = z
  .object({ kind: z.literal('request'), id: requestId, method: z.string().min(1), params: z.unknown() })
  .strict();

export const responseMessage = z.union([
  z.object({ kind: z.literal('response'), id: requestId, result: z.unknown() }).strict(),
  z.object({ kind: z.literal('response'), id: requestId, error: wireError }).strict(),
]);

export const notificationMessage = z
  .object({ kind: z.literal('notification'), method: z.string().min(1), params: z.unknown() })
  .strict();

export const message = z.union([requestMessage, responseMessage, notificationMessage]);

export type RequestMessage = z.infer<typeof requestMessage>;
export type ResponseMessage = z.infer<typeof responseMessage>;
export type NotificationMessage = z.infer<typeof notificationMessage>;
export type Message = z.infer<typeof message>;
