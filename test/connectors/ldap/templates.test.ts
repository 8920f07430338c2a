import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ldapConnectorFactory } from '../../../src/connectors/ldap/index.js';

describe('shipped LDAP rule templates', () => {
  for (const file of ['templates/ad-users-groups.yaml', 'templates/openldap-inetorgperson.yaml']) {
    it(`${file}: its connector settings are valid and its rules read attributes the connector imports`, () => {
      const doc = parse(readFileSync(file, 'utf8')) as {
        connectors: Record<string, { type: string } & Record<string, unknown>>;
        rules: { connector: string; objectType: string; flows: { source?: string; expression?: string }[] }[];
      };
      for (const [name, block] of Object.entries(doc.connectors)) {
        const { type, ...settings } = block;
        expect(type).toBe('ldap');
        const parsed = ldapConnectorFactory.settings.safeParse(settings);
        expect(parsed.success, `${file}: connector ${name}: ${JSON.stringify(parsed.error?.issues)}`).toBe(
          true,
        );
        const objectTypes = (parsed.data as { objectTypes: Record<string, { attributes: string[] }> })
          .objectTypes;
        for (const rule of doc.rules.filter((r) => r.connector === name)) {
          const readable = new Set(
            [
              ...objectTypes[rule.objectType]!.attributes,
              'objectClass',
              'objectGUID',
              'entryUUID',
              'accountDisabled',
            ].map((a) => a.toLowerCase()),
          );
          const used = rule.flows.flatMap((f) => [
            ...(f.source ? [f.source] : []),
            ...[...(f.expression ?? '').matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]!),
          ]);
          for (const attribute of used)
            expect(readable.has(attribute.toLowerCase()), `${rule.objectType} reads ${attribute}`).toBe(true);
        }
      }
    });
  }
});

describe('templates as whole configs', () => {
  it('load through the config loader: connectors, rules, expressions and scopes all valid', async () => {
    const { parseConfig } = await import('../../../src/config/load.js');
    const { readdirSync, readFileSync } = await import('node:fs');
    const dir = new URL('../../../templates/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      const cfg = parseConfig(readFileSync(new URL(f, dir), 'utf8'), `/templates/${f}`, {
        env: { LDAP_PASSWORD: 'x-secret', AD_PASSWORD: 'x-secret', ENTRA_CLIENT_SECRET: 'x-secret' },
      });
      expect(cfg.inbound.length, f).toBeGreaterThan(0);
      for (const c of cfg.connectors.values()) {
        const settings = c.settings as { includeContainers?: string[] };
        for (const dn of settings.includeContainers ?? []) expect(dn, f).toMatch(/^[^,]+=[^,]+,.+/);
      }
    }
  });
});
