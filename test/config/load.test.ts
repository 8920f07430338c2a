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
    expect(cfg.connectors.get('hr')?.deleteThreshold).toEqual({ count: 500, percent: 10 });
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

  it('leaves an unset secret to the command that opens its connector, naming it and its place', () => {
    const cfg = parseConfig('connectors:\n  hr:\n    type: test-settings\n    path: a\n    password: "${env:NOT_SET_ANYWHERE}"\n', '/cfg/idsync.yaml', { env: {} });
    const hr = cfg.connectors.get('hr')!;
    expect(hr.unresolvedSecrets.map((p) => [p.code, p.location])).toEqual([['CONFIG_SECRET_UNRESOLVED', '/cfg/idsync.yaml:5:15']]);
    let thrown: unknown;
    try {
      void hr.settings;
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).problems[0]!.message).toContain('NOT_SET_ANYWHERE');
  });

  it('still validates the other settings of a connector whose secret is unset', () => {
    const p = problems('connectors:\n  hr:\n    type: test-settings\n    path: 3\n    password: "${env:NOT_SET_ANYWHERE}"\n');
    expect(p.map((x) => [x.code, x.location])).toEqual([['CONFIG_INVALID_TYPE', '/cfg/idsync.yaml:4:11']]);
  });

  it('a missing config file is a config error that says how to make one', () => {
    expect(() => loadConfig('/nonexistent/idsync.yaml')).toThrow(/idsync init/);
  });
});

describe('every problem in one pass', () => {
  it('reports four mistakes in four sections, none hidden behind another', () => {
    const text = `stagin: true
schedule: { interval: soon }
connectors:
  hr:
    type: csv
    path: hr.csv
    anchr: id
rules:
  - name: in
    connector: hr
    direction: sideways
    objectType: person
    metaverseType: person
  - name: in2
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    flows:
      - { target: x, expression: 'Join(" ", [a]' }
`;
    const p = problems(text);
    const found = p.map((x) => `${x.location} ${x.code}: ${x.message}`);
    expect(found).toEqual(
      expect.arrayContaining([
        '/cfg/idsync.yaml:1:1 CONFIG_UNKNOWN_SETTING: unknown setting "stagin" (did you mean "staging"?)',
        expect.stringMatching(/^\/cfg\/idsync\.yaml:2:23 CONFIG_INVALID_FORMAT: .*a duration such as 30s/),
        '/cfg/idsync.yaml:7:5 CONFIG_UNKNOWN_SETTING: unknown setting "anchr" (did you mean "anchor"?)',
        // a missing setting is reported at the block it belongs in
        '/cfg/idsync.yaml:5:5 CONFIG_REQUIRED: "anchor" is required (expected: text or a list)',
        expect.stringMatching(/^\/cfg\/idsync\.yaml:11:16 \w+: direction must be inbound or outbound/),
        expect.stringMatching(/^\/cfg\/idsync\.yaml:20:\d+ EXPRESSION_\w+: /),
      ]),
    );
    expect(p).toHaveLength(6);
  });

  it('says what was expected, never a bare "Invalid input"', () => {
    const p = problems(`connectors:
  hr:
    type: csv
    path: [a]
    trim: maybe
    encoding: ebcdic
    anchor: []
  db:
    type: test-settings
    path: a
    pth: b
    passwrd: c
    zzz: d
`);
    for (const x of p) expect(x.message).not.toMatch(/^Invalid input$/);
    const byPlace = Object.fromEntries(p.map((x) => [x.location, x.message]));
    expect(byPlace['/cfg/idsync.yaml:4:11']).toBe('expected text, got a list');
    expect(byPlace['/cfg/idsync.yaml:5:11']).toBe('expected true or false, got text');
    expect(byPlace['/cfg/idsync.yaml:6:15']).toContain('"utf-8"');
    expect(byPlace['/cfg/idsync.yaml:7:13']).toMatch(/>=1 items/);
    // the closest known key where one is close, the known keys otherwise
    expect(byPlace['/cfg/idsync.yaml:12:5']).toBe('unknown setting "passwrd" (did you mean "password"?)');
    expect(byPlace['/cfg/idsync.yaml:13:5']).toBe('unknown setting "zzz" (expected: path, password)');
  });

  it('does not blame a rule for its connector\'s own problems, nor outbound rules for a broken inbound one', () => {
    const p = problems(`connectors:
  hr:
    type: test-settings
    path: 3
rules:
  - name: in
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    precedence: first
    flows:
      - { target: mail, source: email }
  - name: out
    connector: hr
    direction: outbound
    objectType: person
    metaverseType: person
    flows:
      - { target: email, source: mail }
`);
    expect(p.map((x) => x.code).sort()).toEqual(['CONFIG_INVALID_TYPE', 'CONFIG_INVALID_TYPE']);
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
      'no inbound rule sets the person attribute "emial" (expected: displayName, id)',
      'no inbound rule sets the person attribute "mial" (expected: displayName, id)',
      'no inbound rule sets the person attribute "displayNme" (did you mean "displayName"? expected: displayName, id)',
    ]);
    expect(p[0]!.location).toMatch(/idsync\.yaml:\d+:\d+/);
  });
});
