/**
 * `${env:NAME}` and `${file:PATH}` references in config strings. Resolved at load; the resolved values are
 * registered for redaction so they never appear in logs or errors.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { registerSecret } from '../core/redact.js';

const REFERENCE = /\$\{(env|file):([^}]+)\}/g;

export interface SecretProblem {
  message: string;
}

export function resolveReferences(
  text: string,
  configDir: string,
  env: NodeJS.ProcessEnv,
): { value: string; problem?: SecretProblem } {
  let problem: SecretProblem | undefined;
  const value = text.replace(REFERENCE, (_, kind: string, ref: string) => {
    const resolved = kind === 'env' ? env[ref] : readSecretFile(resolve(configDir, ref));
    if (resolved === undefined) {
      problem = {
        message:
          kind === 'env'
            ? `environment variable ${ref} is not set`
            : `secret file ${ref} cannot be read`,
      };
      return '';
    }
    registerSecret(resolved);
    return resolved;
  });
  return problem ? { value, problem } : { value };
}

function readSecretFile(path: string): string | undefined {
  try {
    // A trailing newline is an artefact of `echo secret > file`, never part of the secret.
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch {
    return undefined;
  }
}
