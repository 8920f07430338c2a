/** The shipped ad-to-entra template: a valid config whose Entra flows name real Graph attributes, written by `init --template`. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { templateNames, writeTemplate } from '../../../src/cli/init.js';
import { parseConfig } from '../../../src/config/load.js';
import { entraConnectorFactory } from '../../../src/connectors/entra/index.js';

const FILE = new URL('../../../templates/ad-to-entra.yaml', import.meta.url);

describe('templates/ad-to-entra.yaml', () => {
  it('loads as a whole config, and every Entra attribute its rules write is one the connector knows and may write', async () => {
    const cfg = parseConfig(readFileSync(FILE, 'utf8'), '/templates/ad-to-entra.yaml', { env: { AD_PASSWORD: 'x-secret', ENTRA_CLIENT_SECRET: 'x-secret' } });
    const entra = cfg.connectors.get('entra')!;
    const schema = await entraConnectorFactory.offlineSchema!('entra', entra.settings as never, { configDir: '.', stateDir: '.', log: { debug() {}, info() {}, warn() {} } });
    const outbound = cfg.outbound.filter((r) => r.connector === 'entra');
    expect(outbound.map((r) => r.objectType).sort()).toEqual(['group', 'user']);
    for (const rule of outbound) {
      for (const flow of rule.flows) {
        const a = schema.objectTypes[rule.objectType]!.attributes[flow.target];
        expect(a, `${rule.name}: ${flow.target}`).toBeDefined();
        expect(a!.readOnly, `${rule.name}: ${flow.target} is read-only in Graph`).not.toBe(true);
      }
    }
  });

  it('`idsync init --template ad-to-entra` writes it as idsync.yaml, and refuses an unknown name listing the known ones', async () => {
    expect(templateNames()).toContain('ad-to-entra');
    const dir = mkdtempSync(join(tmpdir(), 'idsync-template-'));
    try {
      expect(await writeTemplate(dir, 'ad-to-entra')).toEqual(['idsync.yaml']);
      expect(readFileSync(join(dir, 'idsync.yaml'), 'utf8')).toBe(readFileSync(FILE, 'utf8'));
      await expect(writeTemplate(dir, 'ad-to-entra')).rejects.toMatchObject({ code: 'INIT_EXISTS' });
      await expect(writeTemplate(dir, 'nope')).rejects.toMatchObject({ code: 'INIT_TEMPLATE_UNKNOWN', message: expect.stringContaining('ad-to-entra') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
