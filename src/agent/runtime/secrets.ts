/**
 * `${agent:NAME}` references in the settings the service sends: resolved on the agent, from its environment
 * variable NAME or else the file secrets/NAME in its folder (a trailing newline dropped), so the service never
 * holds the secret. Every resolved value is registered for redaction. A reference that cannot be resolved is
 * reported with its place, never its neighbours' values.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConnectorError } from '../../core/errors.js';
import { registerSecret } from '../../core/redact.js';

const REFERENCE = /\$\{agent:([A-Za-z0-9._-]+)\}/g;

export function resolveAgentSecrets(value: unknown, connector: string, dir: string, env: NodeJS.ProcessEnv, at: string[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (_, name: string) => {
      const resolved = env[name] ?? readSecret(join(dir, 'secrets', name));
      if (resolved === undefined) {
        throw new ConnectorError(
          'AGENT_SECRET_UNRESOLVED',
          `connector ${connector}: \${agent:${name}} at ${at.join('.') || 'its settings'}: set the environment variable ${name} of the agent, or write the secret to ${join(dir, 'secrets', name)}`,
          { connector },
          false,
        );
      }
      registerSecret(resolved);
      return resolved;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveAgentSecrets(v, connector, dir, env, [...at, String(i)]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveAgentSecrets(v, connector, dir, env, [...at, k])]));
  }
  return value;
}

function readSecret(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch {
    return undefined;
  }
}
