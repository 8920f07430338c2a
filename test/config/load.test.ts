import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { registerConnectorType } from '../../src/connectors/registry.js';
import { ConfigError } from '../../src/core/errors.js';
import { redact } from '../../src/core/redact.js';

// A connector type that only validates settings: these tests concern the loader, not a connector.
registerConnectorType({
  type: 'test-settings',
  description: 'settings only',
  settings: z.object({ path: z.string(), password: z.string().optional() }).strict(),
  create: () => {
    throw new Error('not used');
  },
});

function problems(text: string, env: NodeJS.ProcessEnv = {}) {
  try {
    parseConfig(text, '/cfg/idsync.yaml', { env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const VALID = `
connectors:
  hr:
    type: test-settings
    path: hr.csv
rules:
  - name: in
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    join: [[{ source: id, metaverse: id }]]
    flows:
      - { target: id, source: id }
      - { target: displayName, expression: 'Join(" ", [a], [b])' }
`;

describe('config loader', () => {
  it('loads a valid config and compiles its rules', () => {
    const cfg = parseConfig(VALID, '/cfg/idsync.yaml');
    expect(cfg.connectors.get('hr')?.deleteThreshold).toBe(500);
    expect(cfg.inbound).toHaveLength(1);
    const flow = cfg.inbound[0]!.flows[1]!;
    expect(flow.evaluate({ get: (n) => (n === 'a' ? ['Ann'] : n === 'b' ? ['Lee'] : []) })).toEqual(['Ann Lee']);
    expect(cfg.stateDir).toBe('/cfg/.idsync');
  });

  it('reports YAML syntax errors with line and column', () => {
    const p = problems('connectors:\n  hr: [unclosed\n');
    expect(p[0]!.code).toBe('YAML_SYNTAX');
    expect(p[0]!.location).toMatch(/idsync\.yaml:\d+:\d+$/);
  });

  it('reports every problem at once, each at its place', () => {
    const text = `connectors:
  hr:
    type: nope
  db:
    type: test-settings
    path: 3
rules:
  - name: in
    connector: missing
    direction: inbound
    objectType: person
    metaverseType: person
    flows:
      - { target: x, expression: 'Join(" ", [a]' }
`;
    const p = problems(text);
    const byCode = Object.fromEntries(p.map((x) => [x.code, x]));
    expect(byCode.CONNECTOR_TYPE_UNKNOWN?.location).toBe('/cfg/idsync.yaml:3:11');
    expect(byCode.CONNECTOR_TYPE_UNKNOWN?.message).toContain('expected');
    expect(byCode.CONFIG_INVALID_TYPE?.location).toBe('/cfg/idsync.yaml:6:11');
    expect(byCode.RULE_CONNECTOR_UNKNOWN?.location).toBe('/cfg/idsync.yaml:9:16');
    const expr = p.find((x) => x.path.includes('expression'));
    expect(expr?.location).toMatch(/^\/cfg\/idsync\.yaml:14:\d+$/);
    // the column points into the expression, past its opening quote
    expect(Number(expr!.location!.split(':').pop())).toBeGreaterThan(30);
  });

  it('names unknown settings', () => {
    const p = problems(`connectors:\n  hr:\n    type: test-settings\n    path: a\n    pth: b\n`);
    expect(p[0]!.message).toContain('"pth"');
    expect(p[0]!.location).toBe('/cfg/idsync.yaml:5:5');
  });

  it('resolves ${env:} and ${file:} secrets and redacts them everywhere', () => {
    const dir = mkdtempSync(join(tmpdir(), 'idsync-cfg-'));
    writeFileSync(join(dir, 'secret.txt'), 's3cret-from-file\n');
    writeFileSync(
      join(dir, 'idsync.yaml'),
      'connectors:\n  hr:\n    type: test-settings\n    path: "${file:secret.txt}"\n    password: "${env:HR_PASSWORD}"\n',
    );
    const cfg = loadConfig(join(dir, 'idsync.yaml'), { env: { HR_PASSWORD: 'hunter2-long' } });
    expect(cfg.connectors.get('hr')?.settings).toEqual({ path: 's3cret-from-file', password: 'hunter2-long' });
    expect(redact('bind failed for hunter2-long at s3cret-from-file')).toBe('bind failed for [redacted] at [redacted]');
  });

  it('names an unset environment variable without printing other secrets', () => {
    const p = problems('connectors:\n  hr:\n    type: test-settings\n    path: a\n    password: "${env:NOT_SET_ANYWHERE}"\n');
    expect(p[0]!.code).toBe('CONFIG_SECRET_UNRESOLVED');
    expect(p[0]!.message).toContain('NOT_SET_ANYWHERE');
    expect(p[0]!.location).toBe('/cfg/idsync.yaml:5:15');
  });

  it('a missing config file is a config error that says how to make one', () => {
    expect(() => loadConfig('/nonexistent/idsync.yaml')).toThrow(/idsync init/);
  });
});

describe('metaverse attributes', () => {
  it('reports an outbound flow, scope or join reading a metaverse attribute no inbound rule sets', () => {
    const text = `${VALID}
  - name: out
    connector: hr
    direction: outbound
    objectType: person
    metaverseType: person
    scope: [[{ attribute: displayNme, operator: IS NOT NULL }]]
    join: [[{ target: login, metaverse: displayName }]]
    flows:
      - { target: a, source: displayName }
      - { target: b, source: emial }
      - { target: c, expression: 'ToLower([mial])' }
`;
    const p = problems(text).filter((x) => x.code === 'METAVERSE_ATTRIBUTE_UNKNOWN');
    expect(p.map((x) => x.message)).toEqual([
      'no inbound rule sets the person attribute "emial" (expected: displayname, id)',
      'no inbound rule sets the person attribute "mial" (expected: displayname, id)',
      'no inbound rule sets the person attribute "displayNme" (expected: displayname, id)',
    ]);
    expect(p[0]!.location).toMatch(/idsync\.yaml:\d+:\d+/);
  });
});
