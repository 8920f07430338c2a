/**
 * The service's side of agent registration, mounted in its own fastify scope under /agent/v1 on the service's
 * HTTP(S) port, with its own error handler (agent errors are { error: { code, message, retryable } }, not SCIM).
 * Only what the registration proves reaches the store: a public key, its thumbprint, a host and a version.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { REGISTER_PATH, verifyRegistration } from '../agent/registration.js';
import { IdsyncError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import type { AgentStore } from '../store/agents.js';

export const AGENT_PREFIX = '/agent/v1';

const registerBody = z.object({ registration: z.string().min(1).max(8192) });

/** 401 for anything about the credential; the message tells the agent's administrator what to do. */
const STATUS: Record<string, number> = {
  AGENT_TOKEN_INVALID: 401,
  AGENT_TOKEN_EXPIRED: 401,
  AGENT_PROOF_INVALID: 401,
  AGENT_CLOCK_SKEW: 401,
};

export async function registerAgentRoutes(scope: FastifyInstance, agents: AgentStore): Promise<void> {
  scope.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
    if (err instanceof IdsyncError) {
      return reply.code(STATUS[err.code] ?? 400).send({ error: { code: err.code, message: err.message, retryable: false } });
    }
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err: { message: redact(err.message) } }, 'agent request failed');
    return reply.code(status).send({
      error: {
        code: status === 500 ? 'AGENT_SERVICE_FAILED' : 'AGENT_REQUEST_INVALID',
        message: status === 500 ? 'the service failed to handle the request; the problem is logged' : redact(err.message),
        retryable: status === 500,
      },
    });
  });
  scope.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: 'AGENT_NOT_FOUND', message: `no ${request.method} ${request.url.split('?')[0]}`, retryable: false } }),
  );

  scope.post(REGISTER_PATH.slice(AGENT_PREFIX.length), async (request, reply) => {
    const body = registerBody.safeParse(request.body);
    if (!body.success) {
      throw new IdsyncError('AGENT_PROOF_INVALID', 'the body must be { "registration": "<signed JWT>" }');
    }
    const proof = await verifyRegistration(body.data.registration);
    const agent = await agents.register(proof.token, {
      host: proof.host,
      version: proof.version,
      thumbprint: proof.thumbprint,
      publicKey: JSON.stringify(proof.publicKey),
    });
    request.log.info(`agent ${agent.id} registered in group ${agent.group} from host ${agent.host}`);
    return reply.code(201).send({ id: agent.id, group: agent.group, thumbprint: agent.thumbprint });
  });
}
