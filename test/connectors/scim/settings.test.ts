/** The scim connector's settings as idsync.yaml gives them: defaults, and errors with file:line:column. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/core/errors.js';
import type { ScimSettings } from '../../../src/connectors/scim/settings.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function load(connector: string) {
  dir = mkdtempSync(join(tmpdir(), 'idsync-scim-settings-'));
  writeFileSync(join(dir, 'idsync.yaml'), `connectors:\n  cloud:\n${connector}`);
  return loadConfig(join(dir, 'idsync.yaml'), { env: { SCIM_TOKEN: 'from-the-environment' } });
}

describe('scim settings', () => {
  it('defaults to Entra behaviour and resolves secrets from the environment', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: idsync's secret reference, not a template
    const config = load('    type: scim\n    url: https://app.example.com/scim/v2\n    auth: { type: bearer, token: "${env:SCIM_TOKEN}" }\n');
    const s = config.connectors.get('cloud')!.settings as ScimSettings;
    expect(s.auth).toEqual({ type: 'bearer', token: 'from-the-environment' });
    expect(s.memberBatchSize).toBe(100);
    expect(s.userType.match).toEqual(['userName', 'externalId', 'emails[type eq "work"].value']);
    expect(s.compat).toMatchObject({ patch: 'auto', memberRemoval: 'filter', booleansAsStrings: false });
  });

  it('reports a bad URL and an unknown setting at their line and column', () => {
    let error: unknown;
    try {
      load('    type: scim\n    url: ftp://app.example.com/scim\n    concurency: 3\n');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as ConfigError).message;
    expect(text).toMatch(/idsync\.yaml:4:\d+: .*http/);
    expect(text).toMatch(/idsync\.yaml:5:\d+: .*concurency/);
  });
});
