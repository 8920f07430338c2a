/** What the command line says about itself and its history: version, runs, log filters (docs/cli.md). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runMain } from '../helpers/main.js';

let dir: string;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

const idsync = (...args: string[]) => runMain(args);

async function workspace() {
  dir = mkdtempSync(join(tmpdir(), 'idsync-output-'));
  await idsync('init', dir);
  return join(dir, 'idsync.yaml');
}

const packageVersion = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version as string;

describe('version', () => {
  it('--version, -V and `idsync version` print package.json\'s version', async () => {
    expect(packageVersion).toMatch(/^\d+\.\d+\.\d+/);
    for (const args of [['--version'], ['-V'], ['version']]) {
      const r = await idsync(...args);
      expect(r.code).toBe(0);
      expect(r.out).toBe(packageVersion);
    }
  });

  it('status --json carries the version', async () => {
    const config = await workspace();
    const status = JSON.parse((await idsync('status', '--json', '--config', config)).out);
    expect(status.version).toBe(packageVersion);
  });
});

describe('runs', () => {
  it('records a run as the full sync it printed, and lists the last runs in status and `idsync runs`', async () => {
    const config = await workspace();
    const first = await idsync('run', '--once', '--config', config);
    expect(first.out).toMatch(/^Cycle 1, full sync: ok/); // the first run is a full sync: the rules are new
    await idsync('run', '--once', '--config', config);
    await idsync('run', '--once', '--full', '--config', config);

    const runs = JSON.parse((await idsync('runs', '--json', '--config', config)).out).runs;
    expect(runs.map((r: { id: number; kind: string }) => `${r.id}:${r.kind}`)).toEqual(['3:full', '2:delta', '1:full']);
    expect(runs[2].stats.find((s: { connector: string; phase: string }) => s.connector === 'directory' && s.phase === 'export')).toMatchObject({ added: 212 });

    const status = await idsync('status', '--config', config);
    expect(status.out).toMatch(/run +kind +started +took +result +imported +exported +errors/);
    expect(status.out).toMatch(/#1 +full +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +\d+\.\d\d s +ok +\+212 ~0 -0 +\+212 ~0 -0 +0/);
    expect(status.out).toMatch(/#2 +delta/);
    const two = await idsync('status', '--runs', '2', '--config', config);
    expect(two.out).toMatch(/#3 +full/);
    expect(two.out).not.toMatch(/#1 /);
    expect(JSON.parse((await idsync('status', '--runs', '1', '--json', '--config', config)).out).lastRuns).toHaveLength(1);
    expect((await idsync('runs', '--limit', '0', '--config', config)).code).toBe(2);
    expect((await idsync('runs', '--limit', '1', '--config', config)).out.split('\n')).toHaveLength(2);
  });
});

describe('log filters', () => {
  it('--since takes ages and ISO times; --connector, --action and --status filter', async () => {
    const config = await workspace();
    await idsync('run', '--once', '--config', config);
    const all = JSON.parse((await idsync('log', '--json', '--limit', '1000', '--config', config)).out).entries;
    expect(all.length).toBeGreaterThan(200);
    // The groups' entries happened three hours ago.
    const db = new Database(join(dir, '.idsync', 'state.db'));
    const earlier = new Date(Date.now() - 3 * 3_600_000).toISOString();
    const moved = db.prepare("UPDATE log SET at = ? WHERE connector = 'hr-groups' OR object LIKE 'Project %' OR object LIKE 'Team %' OR object LIKE '%group%'").run(earlier).changes;
    db.close();
    expect(moved).toBeGreaterThan(0);
    const count = async (...args: string[]) => {
      const r = await idsync('log', '--json', '--limit', '1000', '--config', config, ...args);
      expect(r.code).toBe(0);
      return JSON.parse(r.out).entries as { connector: string; action: string; status: string; at: string }[];
    };
    expect(await count('--since', '1h')).toHaveLength(all.length - moved);
    expect(await count('--since', '90m')).toHaveLength(all.length - moved);
    expect(await count('--since', '4h')).toHaveLength(all.length);
    expect(await count('--since', '2d')).toHaveLength(all.length);
    expect(await count('--since', new Date(Date.now() - 3_600_000).toISOString())).toHaveLength(all.length - moved);
    expect(await count('--since', new Date(Date.now() + 86_400_000).toISOString().slice(0, 10))).toHaveLength(0);

    const directory = await count('--connector', 'directory');
    expect(directory.length).toBeGreaterThan(0);
    expect(directory.every((e) => e.connector === 'directory')).toBe(true);
    const creates = await count('--action', 'create');
    expect(creates).toHaveLength(212);
    expect(await count('--action', 'create', '--connector', 'hr')).toHaveLength(0);
    expect((await count('--status', 'success')).length).toBe(all.length);
    expect(await count('--status', 'error')).toHaveLength(0);

    for (const bad of [['--since', 'yesterday'], ['--since', '5 parsecs'], ['--status', 'fine'], ['--limit', 'many']]) {
      const r = await idsync('log', '--config', config, ...bad);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.err).toContain(bad[0]);
    }
    const unknown = await idsync('log', '--connector', 'hr-grups', '--config', config);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('no connector named "hr-grups"');
  });
});

describe('schema', () => {
  it("prints a connector's discovered schema, human and --json (the CSV header, typed as configured)", async () => {
    const config = await workspace();
    const human = await idsync('schema', 'hr', '--config', config);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/^hr \(csv\): 1 object type/);
    expect(human.out).toMatch(/^person \(9 attributes\)$/m);
    expect(human.out).toMatch(/^ +managerId +reference$/m);
    expect(human.out).toMatch(/^ +hireDate +date$/m);

    const json = JSON.parse((await idsync('schema', 'directory', '--json', '--config', config)).out);
    expect(json).toMatchObject({ connector: 'directory', type: 'builtin' });
    expect(Object.keys(json.objectTypes).sort()).toEqual(['group', 'user']);
    expect(json.objectTypes.group.attributes.members).toEqual({ type: 'reference', multiValued: true });
    const groups = JSON.parse((await idsync('schema', 'directory', '--object-type', 'group', '--json', '--config', config)).out);
    expect(Object.keys(groups.objectTypes)).toEqual(['group']);

    const unknown = await idsync('schema', 'hr-feed', '--config', config);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('no connector named "hr-feed"');
    const badType = await idsync('schema', 'hr', '--object-type', 'user', '--config', config);
    expect(badType.code).toBe(1);
    expect(badType.err).toContain('it has: person');
  });
});

describe('delta methods', () => {
  it('status and the run records name how each connector found changes, as the connector reports it', async () => {
    const config = await workspace();
    const before = JSON.parse((await idsync('status', '--json', '--config', config)).out);
    expect(before.connectors.directory.deltaMethod).toBe('change sequence');
    await idsync('run', '--once', '--config', config);
    const second = await idsync('run', '--once', '--config', config);
    expect(second.out).toMatch(/directory +import delta \(change sequence\)/);
    expect(second.out).toMatch(/hr +import full \(file hash and row digests\)/);
    const [last] = JSON.parse((await idsync('runs', '--limit', '1', '--json', '--config', config)).out).runs;
    expect(last.stats.find((s: { connector: string; phase: string }) => s.connector === 'directory' && s.phase === 'import')).toMatchObject({ mode: 'delta', method: 'change sequence' });
    const status = await idsync('status', '--config', config);
    expect(status.out).toMatch(/changes found by/);
    expect(status.out).toMatch(/directory +builtin +212 +212 .* change sequence/);
  });

  it('log names the import that read each inbound change: full or delta, and the delta method', async () => {
    const config = await workspace();
    await idsync('run', '--once', '--config', config);
    const created = await idsync('log', '--connector', 'hr', '--limit', '1', '--config', config);
    // a first import has no digests to compare yet: a plain full read
    expect(created.out).toMatch(/^\S+ #1 hr \S+: sync no-match → project \(success\), read by a full import$/m);
    const hr = join(dirname(config), 'data', 'hr.csv');
    writeFileSync(hr, readFileSync(hr, 'utf8').replace(',Coordinator,', ',Team Lead,'));
    await idsync('run', '--once', '--config', config);
    const updated = await idsync('log', '--connector', 'hr', '--limit', '1', '--config', config);
    expect(updated.out).toMatch(/^\S+ #2 hr \S+: sync linked → update \(success\), read by a full import \(file hash and row digests\)$/m);
    const entry = JSON.parse((await idsync('log', '--connector', 'hr', '--limit', '1', '--json', '--config', config)).out).entries[0];
    expect(entry.importedBy).toEqual({ mode: 'full', method: 'file hash and row digests' });
    // an outbound or export entry was not read by the target's import
    const exported = await idsync('log', '--connector', 'directory', '--limit', '1', '--config', config);
    expect(exported.out).toMatch(/export linked → update \(success\)$/m);
    expect(exported.out).not.toContain('read by');
  });
});
