/**
 * Secrets resolved from the config (passwords, tokens) are registered here, and every text that leaves the
 * process through a log, an error message, the provisioning log or an API goes through `redact`, so that a
 * secret echoed back by a remote system's error message is still hidden.
 */
const secrets = new Set<string>();

export function registerSecret(value: string): void {
  // Very short values would redact ordinary words; a 1-3 character secret is not worth hiding from a log.
  if (value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
  return out;
}

export const REDACTED = '[redacted]';
