/** The command line in-process: commands, --json shapes (docs/cli.md) and exit codes. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runMain } from '../helpers/main.js';

let dir: string;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

const idsync = (...args: string[]) => runMain(args);

function setup() {
  dir = mkdtempSync(join(tmpdir(), 'idsync-cli-'));
  return join(dir, 'idsync.yaml');
}

describe('idsync', () => {
  it('init writes a config that validates, and refuses to overwrite it', async () => {
    const config = setup();
    expect((await idsync('init', dir)).code).toBe(0);
    const v = await idsync('validate', '--config', config);
    expect(v.code).toBe(0);
    expect(v.out).toContain('valid (3 connectors, 4 rules)');
    const again = await idsync('init', dir);
    expect(again.code).toBe(1);
    expect(again.err).toContain('already exists');
  });

  it('run --json, status --json and log --json have the documented shapes', async () => {
    const config = setup();
    await idsync('init', dir);
    const run = await idsync('run', '--once', '--json', '--config', config);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.out);
    expect(report).toMatchObject({ status: 'ok', staging: false, fullSync: true });
    expect(report.connectors.find((c: any) => c.connector === 'directory' && c.phase === 'export')).toMatchObject({ added: 212, errors: 0 });

    const status = JSON.parse((await idsync('status', '--json', '--config', config)).out);
    expect(status.metaverse).toEqual({ person: 200, group: 12 });
    expect(status.connectors.directory).toMatchObject({ type: 'builtin', objects: 212, pendingExports: 0, errors: 0 });
    expect(status.lastRuns[0]).toMatchObject({ status: 'ok' });

    const log = JSON.parse((await idsync('log', '--object', 'E100009', '--json', '--config', config)).out);
    const actions = log.entries.map((e: any) => `${e.phase}:${e.action}`);
    expect(actions).toEqual(expect.arrayContaining(['sync:project', 'export:create']));
    const create = log.entries.find((e: any) => e.phase === 'export');
    expect(create.changes.find((c: any) => c.attribute === 'externalId')).toEqual({ attribute: 'externalId', old: [], new: ['E100009'] });
  });

  it('plan --json counts creates, updates and deletes per target; apply exports them; exit codes follow', async () => {
    const config = setup();
    await idsync('init', dir);
    await idsync('run', '--once', '--config', config);
    const hr = join(dir, 'data', 'hr.csv');
    const lines = readFileSync(hr, 'utf8').split('\n');
    writeFileSync(hr, lines.filter((l) => !l.startsWith('E100010,')).map((l) => (l.startsWith('E100011,') ? l.replace('Support', 'Legal') : l)).join('\n'));
    const plan = await idsync('plan', '--json', '--config', config);
    expect(plan.code).toBe(0);
    const parsed = JSON.parse(plan.out);
    expect(parsed.targets.directory).toMatchObject({ creates: 0, deletes: 0 });
    expect(parsed.targets.directory.updates).toBeGreaterThanOrEqual(2); // the leaver disabled, the mover updated (and groups)
    const disabled = parsed.targets.directory.changes.find((c: any) => c.attributes.some((a: any) => a.attribute === 'active'));
    expect(disabled.attributes).toContainEqual({ attribute: 'active', old: ['true'], new: ['false'] });
    const human = await idsync('plan', '--config', config);
    expect(human.out).toMatch(/directory: 0 to create, \d+ to update( \(\d+ to disable\))?, 0 to delete/);
    const apply = await idsync('apply', '--config', config);
    expect(apply.code).toBe(0);
    expect((await idsync('apply', '--config', config)).code).toBe(1); // no plan left to apply
  });

  it('explain shows scope, join, flows with their values, and the export it would make, writing nothing', async () => {
    const config = setup();
    await idsync('init', dir);
    await idsync('run', '--once', '--config', config);
    const hr = join(dir, 'data', 'hr.csv');
    writeFileSync(hr, readFileSync(hr, 'utf8').replace(/^(E100009,[^,]*,[^,]*,[^,]*,)[^,]*/m, '$1Legal'));
    await idsync('run', '--once', '--connector', 'hr', '--config', config); // import and sync, no export to the directory
    const x = JSON.parse((await idsync('explain', 'hr', 'E100009', '--json', '--config', config)).out);
    expect(x.situation).toBe('linked');
    const details = x.steps.flatMap((e: any) => e.steps.map((s: any) => `${s.step}: ${s.detail}`));
    expect(details).toContainEqual(expect.stringMatching(/^scope: in scope of inbound rule hr-people/));
    expect(details).toContainEqual(expect.stringMatching(/^flow: hr-people: displayName = Join\(" ", \[firstName\], \[lastName\]\) → \[".+"\]/));
    expect(x.exports).toHaveLength(1);
    expect(x.exports[0].changes).toContainEqual({ attribute: 'department', old: [expect.any(String)], new: ['Legal'] });
    // nothing written: the pending export is still there for the next run
    const status = JSON.parse((await idsync('status', '--json', '--config', config)).out);
    expect(status.connectors.directory.pendingExports).toBeGreaterThanOrEqual(1);
    const unknown = await idsync('explain', 'hr', 'E999999', '--config', config);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('E999999');
  });

  it('a held run exits 4 and approve lets the next one through', async () => {
    const config = setup();
    await idsync('init', dir);
    writeFileSync(config, readFileSync(config, 'utf8').replace('deleteThreshold: { count: 500, percent: 10 }', 'deleteThreshold: 3').replace('deprovision: disable   #', 'deprovision: delete   #'));
    await idsync('run', '--once', '--config', config);
    const hr = join(dir, 'data', 'hr.csv');
    const lines = readFileSync(hr, 'utf8').split('\n');
    writeFileSync(hr, [...lines.slice(0, 190), ''].join('\n')); // 11 people leave: more than 3
    const held = await idsync('run', '--once', '--config', config);
    expect(held.code).toBe(4);
    expect(held.out).toContain('idsync approve');
    expect((await idsync('approve', 'hr', '--config', config)).code).toBe(0);
    const next = await idsync('run', '--once', '--config', config);
    expect(next.code).toBe(4); // the import went through; now the directory's deletes wait for their own approval
    expect((await idsync('approve', 'directory', '--config', config)).code).toBe(0);
    const done = await idsync('run', '--once', '--json', '--config', config);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.out).connectors.find((c: any) => c.connector === 'directory' && c.phase === 'export').deleted).toBe(11);
  });

  it('validate finds a source attribute the CSV header does not have, with the closest one, at its place', async () => {
    const config = setup();
    await idsync('init', dir);
    const text = readFileSync(config, 'utf8');
    writeFileSync(config, text.replace("'ToLower([email])'", "'ToLower([emial])'").replace('source: firstName }', 'source: firstname }').replace('source: lastName }', 'source: surname }'));
    const lines = readFileSync(config, 'utf8').split('\n');
    const row = lines.findIndex((l) => l.includes('[emial]'));
    const column = lines[row]!.indexOf('[emial]') + 1;
    for (const offline of [[], ['--offline']]) {
      const v = await idsync('validate', ...offline, '--config', config);
      expect(v.code).toBe(2);
      expect(v.err).toContain(`idsync.yaml:${row + 1}:${column}: connector hr (person) has no attribute "emial" (did you mean "email"? expected: employeeId, firstName,`);
      expect(v.err).toMatch(/has no attribute "surname" \(expected: employeeId, firstName, lastName/);
      // attribute names are matched without regard to case, as the engine reads them
      expect(v.err).not.toContain('"firstname"');
    }
    const json = JSON.parse((await idsync('validate', '--json', '--config', config)).out);
    expect(json.valid).toBe(false);
    expect(json.problems.map((p: { code: string }) => p.code)).toEqual(['ATTRIBUTE_UNKNOWN', 'ATTRIBUTE_UNKNOWN']);
  });

  it('validate finds four mistakes in four places in one pass, a misspelt CSV column among them', async () => {
    const config = setup();
    await idsync('init', dir);
    writeFileSync(
      config,
      readFileSync(config, 'utf8')
        .replace('staging: false', 'stagin: false')
        .replace('interval: 30m', 'interval: soon')
        .replace('anchor: groupId', 'anchr: groupId')
        .replace("'ToLower([email])'", "'ToLower([emial])'"),
    );
    const v = await idsync('validate', '--config', config);
    expect(v.code).toBe(2);
    const lines = v.err.split('\n').slice(1).map((l) => l.trim().replace(/^.*idsync\.yaml:\d+:\d+: /, ''));
    expect(lines).toEqual([
      'unknown setting "stagin" (did you mean "staging"?)',
      'expected a duration such as 30s, 2m or 1h',
      '"anchor" is required (expected: text or a list)',
      'unknown setting "anchr" (did you mean "anchor"?)',
      expect.stringMatching(/^connector hr \(person\) has no attribute "emial" \(did you mean "email"\?/),
    ]);
  });

  it('validate says what it could not check: a CSV feed that is not there yet is a notice, not an error', async () => {
    const config = setup();
    await idsync('init', dir);
    rmSync(join(dir, 'data', 'groups.csv'));
    const v = await idsync('validate', '--config', config);
    expect(v.code).toBe(0);
    expect(v.out).toContain('valid (3 connectors, 4 rules)');
    expect(v.err).toMatch(/connector hr-groups: attribute names not checked: .*groups\.csv/);
  });

  it('status, log, explain and token list run without the secrets of the config; run and validate name the missing one', async () => {
    const config = setup();
    await idsync('init', dir);
    expect((await idsync('run', '--once', '--config', config)).code).toBe(0);
    const text = readFileSync(config, 'utf8')
      .replace(
        'rules:\n',
        `  corp:
    type: ldap
    urls: [ldap://127.0.0.1:9]
    bindDN: cn=admin,dc=example,dc=test
    password: "\${env:IDSYNC_TEST_NEVER_SET}"
    baseDN: dc=example,dc=test
    objectTypes:
      person: { objectClasses: [inetOrgPerson], rdnAttribute: uid, container: "ou=people,dc=example,dc=test" }

rules:
`,
      )
      .concat(`
  - name: corp-people
    connector: corp
    direction: outbound
    metaverseType: person
    objectType: person
    flows:
      - { target: mail, source: email }
`);
    writeFileSync(config, text);
    const at = `idsync.yaml:${text.split('\n').findIndex((l) => l.includes('IDSYNC_TEST_NEVER_SET')) + 1}:15`;
    expect((await idsync('status', '--config', config)).code).toBe(0);
    expect((await idsync('log', '--object', 'E100009', '--config', config)).code).toBe(0);
    const x = await idsync('explain', 'hr', 'E100009', '--json', '--config', config);
    expect(x.code).toBe(0);
    expect(JSON.parse(x.out).situation).toBe('linked');
    expect((await idsync('token', 'list', '--config', config)).code).toBe(0);

    const run = await idsync('run', '--once', '--config', config);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`${at}: environment variable IDSYNC_TEST_NEVER_SET is not set`);
    expect(JSON.parse((await idsync('status', '--json', '--config', config)).out).lastRuns[0].status).toBe('ok'); // the refused run left nothing behind

    const v = await idsync('validate', '--config', config);
    expect(v.code).toBe(2);
    expect(v.err).toContain(`${at}: environment variable IDSYNC_TEST_NEVER_SET is not set`);
    // offline the secret is not needed; what could not be checked is said
    const offline = await idsync('validate', '--offline', '--config', config);
    expect(offline.code).toBe(0);
    expect(offline.err).toContain('IDSYNC_TEST_NEVER_SET is not set (not needed offline');
    expect(offline.err).toContain("connector corp: attribute names not checked: a ldap connector's schema is known only by connecting");
  });

  it('a feed cut from 200 rows to 10 is held by the default threshold; plan and status show what and why', async () => {
    const config = setup();
    await idsync('init', dir);
    expect((await idsync('run', '--once', '--config', config)).code).toBe(0);
    const hr = join(dir, 'data', 'hr.csv');
    writeFileSync(hr, `${readFileSync(hr, 'utf8').split('\n').slice(0, 11).join('\n')}\n`); // the header and 10 people

    const held = await idsync('run', '--once', '--config', config);
    expect(held.code).toBe(4);
    expect(held.out).toContain('no longer sees 190 of 200 objects');

    const plan = await idsync('plan', '--config', config);
    expect(plan.code).toBe(4);
    expect(plan.out).toContain('Held by the deletion threshold:');
    expect(plan.out).toMatch(/hr import: the full import no longer sees 190 of 200 objects, more than the deletion threshold \(the lower of 500 and 10%: at most 20\)/);
    expect(plan.out).toMatch(/~ disable user \S+ {2}\[held: hr import\]\n {6}active: true → false/);
    expect(plan.out).toContain('idsync approve hr');
    expect(plan.out).not.toContain('No changes');

    const json = JSON.parse((await idsync('plan', '--json', '--config', config)).out);
    expect(json.status).toBe('held');
    expect(json.holds).toMatchObject([{ connector: 'hr', phase: 'import', count: 190, limit: 20, population: 200 }]);
    const changes = json.targets.directory.changes.filter((c: any) => c.disable);
    expect(changes.length).toBeGreaterThan(150);
    expect(changes[0]).toMatchObject({ op: 'update', held: true, heldBy: { connector: 'hr', phase: 'import' }, attributes: [{ attribute: 'active', old: ['true'], new: ['false'] }] });

    const status = await idsync('status', '--config', config);
    expect(status.out).toMatch(/Held: hr import since \S+: the full import no longer sees 190 of 200 objects/);
    const statusJson = JSON.parse((await idsync('status', '--json', '--config', config)).out);
    expect(statusJson.connectors.hr.holds).toMatchObject([{ phase: 'import', count: 190, limit: 20, population: 200 }]);
    expect(statusJson.connectors.directory.holds).toEqual([]);
  });

  it('usage errors exit 2', async () => {
    expect((await idsync('run', '--no-such-flag')).code).toBe(2);
  });
});
