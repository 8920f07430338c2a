/**
 * The SCIM connector against idsync's own SCIM service (`idsync serve`, src/server/, branch scim-server):
 * initial provisioning, a no-change cycle sending no write request, updates, renames, disable, delete and
 * membership changes, over real HTTP on loopback.
 *
 * The service's test helper (test/helpers/scim-server.ts) arrives with the scim-server branch; until both
 * branches are merged this file skips itself.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ScimConnector } from '../../../src/connectors/scim/connector.js';
import type { CycleReport } from '../../../src/engine/engine.js';
import { type Workspace, workspace } from '../../helpers/workspace.js';

const HELPER = fileURLToPath(new URL('../../helpers/scim-server.ts', import.meta.url));
const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

interface TestServer {
  base: string;
  token: string;
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

let ws: Workspace | undefined;
let service: TestServer | undefined;
afterEach(async () => {
  ws?.cleanup();
  await service?.close();
  ws = undefined;
  service = undefined;
});

async function startService(): Promise<TestServer> {
  const helper = HELPER.replace(/\.ts$/, '.js');
  const mod = (await import(helper)) as { startTestServer(options?: { config?: string }): Promise<TestServer> };
  return mod.startTestServer();
}

function config(url: string, token: string, deprovision = 'disable'): string {
  return `
connectors:
  hr: { type: csv, path: data/hr.csv, objectType: person, anchor: employeeId, references: { managerId: true } }
  hr-groups: { type: csv, path: data/groups.csv, objectType: group, anchor: groupId, multiValued: { members: ";" }, references: { members: true } }
  cloud:
    type: scim
    url: ${url}
    auth: { type: bearer, token: "${token}" }
rules:
  - name: hr-people
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    join: [[{ source: employeeId, metaverse: employeeId }]]
    project: true
    flows:
      - { target: employeeId, source: employeeId }
      - { target: givenName, source: firstName }
      - { target: familyName, source: lastName }
      - { target: displayName, expression: 'Join(" ", [firstName], [lastName])' }
      - { target: email, expression: 'ToLower([email])' }
      - { target: department, source: department }
      - { target: manager, source: managerId }
  - name: hr-groups
    connector: hr-groups
    direction: inbound
    objectType: group
    metaverseType: group
    join: [[{ source: groupId, metaverse: groupId }]]
    project: true
    flows:
      - { target: groupId, source: groupId }
      - { target: displayName, source: name }
      - { target: members, source: members, referencesIn: hr }
  - name: cloud-users
    connector: cloud
    direction: outbound
    metaverseType: person
    objectType: user
    join: [[{ target: userName }]]
    deprovision: ${deprovision}
    flows:
      - { target: userName, source: email }
      - { target: externalId, source: employeeId }
      - { target: active, constant: true }
      - { target: displayName, source: displayName }
      - { target: name.givenName, source: givenName }
      - { target: name.familyName, source: familyName }
      - { target: 'emails[type eq "work"].value', source: email }
      - { target: '${ENT}:department', source: department }
      - { target: '${ENT}:manager', source: manager }
  - name: cloud-groups
    connector: cloud
    direction: outbound
    metaverseType: group
    objectType: group
    join: [[{ target: externalId }]]
    deprovision: delete
    flows:
      - { target: displayName, source: displayName }
      - { target: externalId, source: groupId }
      - { target: members, source: members }
`;
}

async function userByName(userName: string): Promise<any> {
  const r = await service!.request('GET', `/Users?filter=${encodeURIComponent(`userName eq ${JSON.stringify(userName)}`)}`);
  expect(r.status).toBe(200);
  return r.body.Resources[0];
}

async function groupByName(name: string): Promise<any> {
  const r = await service!.request('GET', `/Groups?filter=${encodeURIComponent(`displayName eq ${JSON.stringify(name)}`)}`);
  expect(r.status).toBe(200);
  return r.body.Resources[0];
}

/** One cycle with a fresh engine; returns the report and the write requests the SCIM connector sent. */
async function cycle(): Promise<{ report: CycleReport; writes: number }> {
  const engine = await ws!.engine();
  try {
    const report = await engine.cycle();
    const writes = (engine.connector('cloud') as ScimConnector).requestStats.writes;
    return { report, writes };
  } finally {
    await engine.close();
  }
}

function exported(report: CycleReport) {
  const s = report.stats.find((x) => x.connector === 'cloud' && x.phase === 'export');
  return { added: s?.added ?? 0, updated: s?.updated ?? 0, deleted: s?.deleted ?? 0, errors: s?.errors ?? 0 };
}

describe.skipIf(!existsSync(HELPER))("against idsync's own SCIM service", () => {
  it('provisions, then a no-change cycle sends no write request', async () => {
    service = await startService();
    ws = workspace({ people: 30, groups: 2, groupSize: 6 });
    ws.writeConfig(config(service.base, service.token));
    const first = await cycle();
    expect(first.report.status).toBe('ok');
    expect(exported(first.report).added).toBe(30 + ws.groups.length);

    const p = ws.people[10]!;
    const boss = ws.people.find((m) => m.employeeId === p.managerId)!;
    const u = await userByName(p.email.toLowerCase());
    expect(u).toMatchObject({ userName: p.email.toLowerCase(), active: true, externalId: p.employeeId, name: { givenName: p.firstName, familyName: p.lastName } });
    expect(u.emails).toEqual([expect.objectContaining({ type: 'work', value: p.email.toLowerCase() })]);
    expect(u[ENT].department).toBe(p.department);
    expect(u[ENT].manager.value).toBe((await userByName(boss.email.toLowerCase())).id);
    const project = ws.groups.find((g) => g.name === 'Project 1')!;
    const group = await groupByName('Project 1');
    const members = await service.request('GET', `/Groups/${group.id}`);
    expect(members.body.members.length).toBe(project.members.length);

    const second = await cycle();
    expect(exported(second.report)).toEqual({ added: 0, updated: 0, deleted: 0, errors: 0 });
    expect(second.writes).toBe(0);
  });

  it('carries updates, renames, membership changes, disable and delete', async () => {
    service = await startService();
    ws = workspace({ people: 20, groups: 1, groupSize: 6 });
    ws.writeConfig(config(service.base, service.token));
    await cycle();
    const people = ws.people.map((p) => ({ ...p }));
    const renamed = people[3]!;
    const oldId = (await userByName(renamed.email.toLowerCase())).id;
    renamed.email = `renamed.${renamed.email}`;
    renamed.department = 'Research';
    const leaver = people.splice(7, 1)[0]!;
    ws.writePeople(people);
    const groups = ws.groups.map((g) => ({ ...g, members: [...g.members] }));
    const g = groups.find((x) => x.name === 'Project 1')!;
    g.members.shift();
    const added = people.find((p) => !g.members.includes(p.employeeId) && p.employeeId !== leaver.employeeId)!;
    g.members.push(added.employeeId);
    ws.writeGroups(groups);

    const run = await cycle();
    expect(run.report.status).toBe('ok');
    const r = (await service.request('GET', `/Users/${oldId}`)).body;
    expect(r.userName).toBe(renamed.email.toLowerCase());
    expect(r[ENT].department).toBe('Research');
    expect((await userByName(leaver.email.toLowerCase())).active).toBe(false);
    const group = (await service.request('GET', `/Groups/${(await groupByName('Project 1')).id}`)).body;
    const ids = await Promise.all(g.members.map(async (e) => (await userByName(people.find((p) => p.employeeId === e)!.email.toLowerCase())).id));
    expect(group.members.map((m: { value: string }) => m.value).sort()).toEqual(ids.sort());

    ws.writeGroups(groups.filter((x) => x.name !== 'Project 1'));
    const deleted = await cycle();
    expect(exported(deleted.report).deleted).toBe(1);
    expect(await groupByName('Project 1')).toBeUndefined();
  });
});
