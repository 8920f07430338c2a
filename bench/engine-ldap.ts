/**
 * The engine from OpenLDAP: 100,000 people and 2,000 groups read from a throwaway slapd into the built-in
 * directory, the scenario of design.md's targets (initial sync under 30 s on 2 cores; a delta cycle with no
 * change under 0.5 s, with 1,000 changes under 3 s). Reference in the same run: `ldapsearch` reading the same
 * entries, paged, the least any reader must do.
 *
 *   node --import tsx bench/engine-ldap.ts [people] [--serve]
 *
 * --serve: set up the server and the workspace, print the config's path and wait (Ctrl-C ends it), to
 * profile cycles by hand: node --cpu-prof bench/engine-child.mjs CONFIG delta
 */
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { SAMPLE_CONFIG } from '../src/cli/init.js';
import { employeeId, samplePeople, sampleGroups } from '../src/samples/people.js';
import { BASE_DN, BASE_LDIF, personDN, personEntry, startSlapd } from '../test/helpers/slapd.js';
import { build, closing, cpu, cycle, phases, rss, seconds } from './engine-cycle.js';
import { ldapsearchPaged, timed } from './ldap-tools.js';
import { machine } from './machine.js';

const PEOPLE = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 100_000);
const GROUPS = 2_000;
const GROUP_SIZE = 50;
const ATTRIBUTES = ['uid', 'cn', 'sn', 'givenName', 'displayName', 'mail', 'title', 'departmentNumber', 'employeeNumber', 'manager'];

/** The sample people and groups (the CSV benchmark's) as inetOrgPerson and groupOfNames entries. */
async function writeLdif(file: string): Promise<number> {
  const out = createWriteStream(file);
  const write = (s: string) => (out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write(BASE_LDIF);
  for (const p of samplePeople(PEOPLE)) await write(`\n${personEntry(p)}\n`);
  const groups = sampleGroups(PEOPLE, GROUPS - 8, GROUP_SIZE).filter((g) => g.members.length > 0);
  for (const g of groups) {
    const members = g.members.map((m) => `member: ${personDN(m)}`);
    await write(`\ndn: cn=${g.groupId},ou=groups,${BASE_DN}\nobjectClass: groupOfNames\ncn: ${g.groupId}\ndescription: ${g.name}\n${members.join('\n')}\n`);
  }
  await new Promise<void>((resolve) => out.end(resolve));
  return groups.length;
}

/**
 * The sample configuration (`idsync init`'s, as the CSV benchmark runs it) with OpenLDAP as the source in
 * place of the HR feeds: the same metaverse attributes, the same outbound rules into the built-in directory.
 */
function config(url: string, bindDN: string, password: string): string {
  const sample = parse(SAMPLE_CONFIG) as { connectors: Record<string, unknown>; rules: { direction: string }[] };
  const ldap = (objectClass: string, attributes: string[], rdnAttribute: string, container: string) => ({
    objectClasses: [objectClass],
    attributes,
    rdnAttribute,
    container: `${container},${BASE_DN}`,
  });
  type Flow = string | { constant: string };
  const inbound = (name: string, objectType: string, metaverseType: string, join: [string, string], flows: Record<string, Flow>) => ({
    name,
    connector: 'corp',
    direction: 'inbound',
    objectType,
    metaverseType,
    join: [[{ source: join[0], metaverse: join[1] }]],
    project: true,
    flows: Object.entries(flows).map(([target, flow]) =>
      typeof flow !== 'string' ? { target, ...flow } : flow.includes('[') ? { target, expression: flow } : { target, source: flow },
    ),
  });
  sample.connectors = {
    corp: {
      type: 'ldap',
      flavor: 'openldap',
      urls: [url],
      bindDN,
      password,
      baseDN: BASE_DN,
      objectTypes: {
        user: ldap('inetOrgPerson', ATTRIBUTES, 'uid', 'ou=people'),
        group: ldap('groupOfNames', ['cn', 'description', 'member'], 'cn', 'ou=groups'),
      },
    },
    directory: sample.connectors.directory,
  };
  sample.rules = [
    inbound('people-in', 'user', 'person', ['employeeNumber', 'employeeId'], {
      employeeId: 'employeeNumber',
      givenName: 'givenName',
      familyName: 'sn',
      displayName: 'displayName',
      email: 'ToLower([mail])',
      department: 'departmentNumber',
      title: 'title',
      manager: 'manager',
      // the directory rule's scope leaves out terminated people; a directory lists only current ones
      status: { constant: 'active' },
    }),
    inbound('groups-in', 'group', 'group', ['cn', 'groupId'], { groupId: 'cn', displayName: 'description', members: 'member' }),
    ...sample.rules.filter((r) => r.direction === 'outbound'),
  ];
  return stringify(sample);
}

/** The reference and the three cycles, printed as a table. */
async function measure(configPath: string, total: number): Promise<void> {
  // the server's caches warmed once, then the reference: the same entries and attributes, paged
  await ldapsearchPaged(slapd.url, slapd.bindDN, slapd.password, ATTRIBUTES);
  const reference = await timed(() => ldapsearchPaged(slapd.url, slapd.bindDN, slapd.password, ['objectClass', 'entryUUID', 'cn', 'description', 'member', ...ATTRIBUTES]));

  const initial = cycle(configPath);
  const noChange = cycle(configPath);
  const titles = Array.from({ length: 1000 }, (_, i) => `dn: ${personDN(employeeId((i * 97) % PEOPLE))}\nchangetype: modify\nreplace: title\ntitle: Benchmark Title ${i}\n`);
  await slapd.modify(titles.join('\n'));
  const changed = cycle(configPath);
  const exported = changed.stats.find((s) => s.connector === 'directory' && s.phase === 'export');
  const imported = (r: typeof initial) => r.stats.find((s) => s.connector === 'corp' && s.phase === 'import');

  console.log(`Machine: ${machine()}\n`);
  console.log('| engine: OpenLDAP → built-in directory | time | then closing | CPU | rate | peak RSS |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| initial full cycle (${total.toLocaleString('en')} objects) | ${seconds(initial.ms)} | ${closing(initial)} | ${cpu(initial)} | ${Math.round(total / (initial.ms / 1000)).toLocaleString('en')} objects/s | ${rss(initial)} |`);
  console.log(`| reference: ldapsearch, paged, the same entries | ${seconds(reference.ms)} | | | ${Math.round(total / (reference.ms / 1000)).toLocaleString('en')} entries/s | |`);
  console.log(`| delta cycle with no change (${imported(noChange)?.mode ?? '?'} import) | ${seconds(noChange.ms, 2)} | ${closing(noChange)} | ${cpu(noChange)} | | ${rss(noChange)} |`);
  console.log(`| delta cycle with 1,000 changes (${exported?.updated ?? 0} updates exported) | ${seconds(changed.ms, 2)} | ${closing(changed)} | ${cpu(changed)} | | ${rss(changed)} |`);
  console.log(`\nInitial cycle by phase: ${phases(initial)}.`);
  console.log(`Statuses: ${initial.status}, ${noChange.status}, ${changed.status}.`);
  console.log('Targets (design.md): initial under 30 s on 2 cores; delta with no change under 0.5 s, with 1,000 changes under 3 s.');
}

build();
const work = mkdtempSync(join(tmpdir(), 'idsync-bench-ldap-'));
const ldif = join(work, 'data.ldif');
const groups = await writeLdif(ldif);
const slapd = await startSlapd({ ldif: '', ldifFile: ldif }).catch((err: unknown) => {
  rmSync(work, { recursive: true, force: true });
  throw err;
});
try {
  const configPath = join(work, 'idsync.yaml');
  writeFileSync(configPath, config(slapd.url, slapd.bindDN, slapd.password));
  if (process.argv.includes('--serve')) {
    console.log(`config: ${configPath} (state in ${join(work, '.idsync')}); Ctrl-C stops the server`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  } else {
    await measure(configPath, PEOPLE + groups);
  }
} finally {
  await slapd.stop();
  rmSync(work, { recursive: true, force: true });
}
