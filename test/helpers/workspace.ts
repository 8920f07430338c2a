/**
 * A throwaway idsync installation in a temp folder: the sample config (or a variant), CSV files the test
 * writes, and an engine over it. Tests then read the built-in directory to see what really arrived.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { Directory } from '../../src/directory/index.js';
import { type CycleOptions, type CycleReport, Engine } from '../../src/engine/engine.js';
import { GROUPS_HEADER, groupRow, PEOPLE_HEADER, personRow, type SampleGroup, type SamplePerson, sampleGroups, samplePeople } from '../../src/samples/people.js';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';
import { BASE_LDIF, type Entries, entriesOf, type Slapd, startSlapd } from './slapd.js';

export interface Workspace {
  dir: string;
  configPath: string;
  people: SamplePerson[];
  groups: SampleGroup[];
  writePeople(people: SamplePerson[]): void;
  writeGroups(groups: SampleGroup[]): void;
  writeConfig(text: string): void;
  engine(): Promise<Engine>;
  /** run one cycle with a fresh engine (as the CLI does) */
  cycle(options?: Parameters<Engine['cycle']>[0]): ReturnType<Engine['cycle']>;
  directory(): Directory;
  cleanup(): void;
}

/** `stateUrl`: the state in that PostgreSQL database (state.url written into every config the workspace writes). */
export function workspace(options: { people?: number; groups?: number; groupSize?: number; config?: string; stateUrl?: string } = {}): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'idsync-test-'));
  // IDSYNC_TEST_STATE=postgres: every workspace's state in a PostgreSQL database of its own, dropped by cleanup
  // (runs the engine's tests over the PostgreSQL store; tests that open state.db themselves then fail)
  const database = options.stateUrl === undefined && process.env.IDSYNC_TEST_STATE === 'postgres' ? syncDatabase() : undefined;
  if (database) options = { ...options, stateUrl: database.url };
  const configPath = join(dir, 'idsync.yaml');
  const people = [...samplePeople(options.people ?? 20)];
  const groups = sampleGroups(people.length, options.groups ?? 2, options.groupSize ?? 5);
  const ws: Workspace = {
    dir,
    configPath,
    people,
    groups,
    writePeople(list) {
      writeFileSync(join(dir, 'data', 'hr.csv'), `${[PEOPLE_HEADER, ...list.map(personRow)].join('\n')}\n`);
    },
    writeGroups(list) {
      writeFileSync(join(dir, 'data', 'groups.csv'), `${[GROUPS_HEADER, ...list.map(groupRow)].join('\n')}\n`);
    },
    writeConfig(text) {
      writeFileSync(configPath, options.stateUrl === undefined ? text : withStateUrl(text, options.stateUrl));
    },
    async engine() {
      return Engine.open(loadConfig(configPath));
    },
    async cycle(opts) {
      const engine = await ws.engine();
      try {
        return await engine.cycle(opts);
      } finally {
        await engine.close();
      }
    },
    directory() {
      mkdirSync(join(dir, '.idsync'), { recursive: true });
      return new Directory(join(dir, '.idsync', 'directory.db'));
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
      database?.drop();
    },
  };
  mkdirSync(join(dir, 'data'), { recursive: true });
  ws.writeConfig(options.config ?? SAMPLE_CONFIG);
  ws.writePeople(people);
  ws.writeGroups(groups);
  return ws;
}


/** The directory's content keyed by userName / group displayName, ids replaced by userNames: comparable across runs. */
export function snapshot(directory: Directory): { users: Record<string, Record<string, unknown>>; groups: Record<string, string[]> } {
  const all = [];
  let afterId: string | undefined;
  for (;;) {
    const page = directory.list({ ...(afterId ? { afterId } : {}), limit: 5000 });
    if (page.length === 0) break;
    all.push(...page);
    afterId = page[page.length - 1]!.id;
  }
  const userNameOf = new Map(all.filter((o) => o.type === 'user').map((o) => [o.id, String(o.attributes.userName?.[0])]));
  const render = (v: unknown) => (typeof v === 'object' && v !== null && 'ref' in v ? `→${userNameOf.get((v as { ref: string }).ref) ?? '?'}` : v);
  const users: Record<string, Record<string, unknown>> = {};
  const groups: Record<string, string[]> = {};
  for (const o of all) {
    if (o.type === 'user') {
      users[String(o.attributes.userName?.[0])] = Object.fromEntries(
        Object.entries(o.attributes).map(([k, vs]) => [k, vs.length === 1 ? render(vs[0]) : vs.map(render)]),
      );
    } else {
      groups[String(o.attributes.displayName?.[0])] = (o.attributes.members ?? []).map((m) => String(render(m))).sort();
    }
  }
  return { users, groups };
}

/**
 * One cycle with a fresh engine over the idsync.yaml in `folder` (as the CLI does). A cycle that is not ok
 * prints its failing connectors' stats and the object errors, so the assertion on its status says why.
 */
export async function cycleIn(folder: string, options: CycleOptions = {}): Promise<CycleReport> {
  const engine = await Engine.open(loadConfig(join(folder, 'idsync.yaml')));
  try {
    const report = await engine.cycle(options);
    if (report.status !== 'ok') {
      const stats = report.stats.filter((s) => s.status !== 'ok' || s.errors > 0);
      console.error(JSON.stringify({ stats, errors: await engine.store.errors() }, null, 1));
    }
    return report;
  } finally {
    await engine.close();
  }
}

/**
 * What a fresh installation makes of the same source: `config` loaded by one cycle into an empty OpenLDAP
 * without referential integrity, read back as `attributes` of its entries (what a long-lived target is
 * compared with).
 */
export async function freshLoad(config: (slapd: Slapd) => string, attributes: string[]): Promise<Entries> {
  const empty = await startSlapd({ ldif: BASE_LDIF, memberofRefint: false });
  const folder = mkdtempSync(join(tmpdir(), 'idsync-fresh-load-'));
  try {
    writeFileSync(join(folder, 'idsync.yaml'), config(empty));
    const report = await cycleIn(folder);
    if (report.status !== 'ok') throw new Error(`the fresh load's cycle was ${report.status}`);
    return await entriesOf(empty, attributes);
  } finally {
    await empty.stop();
    rmSync(folder, { recursive: true, force: true });
  }
}

function withStateUrl(text: string, url: string): string {
  // a config read back and written again has the url already: replaced, not added twice
  return /^state:\n/m.test(text) ? text.replace(/^state:\n( {2}url: .*\n)?/m, `state:\n  url: ${url}\n`) : `${text}\nstate:\n  url: ${url}\n`;
}

/** A PostgreSQL database made and dropped synchronously (psql), for workspaces made synchronously. */
function syncDatabase(): { url: string; drop(): void } {
  const host = process.env.IDSYNC_TEST_PGHOST ?? '127.0.0.1';
  const port = process.env.IDSYNC_TEST_PGPORT ?? '5432';
  const name = `idsync_ws_${process.pid}_${randomBytes(4).toString('hex')}`;
  const psql = (sql: string) => execFileSync('psql', ['-h', host, '-p', port, '-U', 'postgres', '-d', 'postgres', '-qAtc', sql], { stdio: 'ignore' });
  psql(`CREATE DATABASE ${name}`);
  return { url: `postgres://postgres@${host}:${port}/${name}`, drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
