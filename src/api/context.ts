/** What the admin API's handlers work with: the serve process's engine and stores, and the request's caller. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LoadedConfig } from '../config/model.js';
import type { Engine } from '../engine/engine.js';
import type { AccountStore } from '../store/accounts.js';
import type { AgentStore } from '../store/agents.js';
import type { TokenStore } from '../store/tokens.js';
import type { ApiAuth, ApiCaller } from './auth.js';
import type { ProgressFeed } from './progress.js';

export interface ApiDeps {
  config: LoadedConfig;
  /** the engine serve runs its cycles with (the one holder of the state's cycle lease) */
  engine: Engine;
  accounts: AccountStore;
  auth: ApiAuth;
  /** SCIM tokens (tokens.db) */
  tokens?: TokenStore;
  agents?: AgentStore;
  /** the engine's progress, for GET /progress */
  progress: ProgressFeed;
  /** the session cookie is marked Secure (serve runs TLS) */
  secureCookie: boolean;
}

export interface ApiContext extends ApiDeps {
  /** undefined for public routes */
  caller: ApiCaller | undefined;
  request: FastifyRequest;
  reply: FastifyReply;
}
