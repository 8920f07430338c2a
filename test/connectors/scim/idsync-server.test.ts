/**
 * The SCIM connector against idsync's own SCIM service (`idsync serve`, src/server/, branch scim-server):
 * initial provisioning, a no-change cycle sending no write request, updates, renames, disable, delete and
 * membership changes, over real HTTP on loopback.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ScimConnector } from '../../../src/connectors/scim/connector.js';
import type { CycleReport } from '../../../src/engine/engine.js';
import { startTestServer, type TestServer } from '../../helpers/scim-server.js';
import { type Workspace, workspace } from '../../helpers/workspace.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

let ws: Workspace | undefined;
let service: TestServer | undefined;
afterEach(async () => {
  ws?.cleanup();
  await service?.close();
  ws = undefined;
  service = undefined;
});


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

/** One cycle with a fresh engine; returns the report and the requests (and writes) the SCIM connector sent. */
async function cycle(full = false): Promise<{ report: CycleReport; writes: number; requests: number }> {
  const engine = await ws!.engine();
  try {
    const report = await engine.cycle({ full });
    const { writes, requests } = (engine.connector('cloud') as ScimConnector).requestStats;
    return { report, writes, requests };
  } finally {
    await engine.close();
  }
}

function exported(report: CycleReport) {
  const s = report.stats.find((x) => x.connector === 'cloud' && x.phase === 'export');
  return { added: s?.added ?? 0, updated: s?.updated ?? 0, deleted: s?.deleted ?? 0, errors: s?.errors ?? 0 };
}

describe("against idsync's own SCIM service", () => {
  it('provisions, then a no-change cycle sends no write request', async () => {
    service = await startTestServer();
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
    service = await startTestServer();
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

  it('a no-change cycle reads the changes since the last one (meta.lastModified), not the whole target; deletions wait for the full reconciliation', async () => {
    service = await startTestServer();
    ws = workspace({ people: 30, groups: 3, groupSize: 6 });
    ws.writeConfig(config(service.base, service.token));
    const snapshot = async () => {
      const users = (await service!.request('GET', '/Users?count=1000')).body.Resources as any[];
      const groups = (await service!.request('GET', '/Groups?count=1000')).body.Resources as any[];
      const nameOf = new Map(users.map((u) => [u.id, u.userName]));
      return {
        users: Object.fromEntries(users.map((u) => [u.userName, { displayName: u.displayName, active: u.active, department: u[ENT]?.department, manager: nameOf.get(u[ENT]?.manager?.value) }])),
        groups: Object.fromEntries(groups.map((g) => [g.displayName, (g.members ?? []).map((m: { value: string }) => nameOf.get(m.value)).sort()])),
      };
    };
    // one person in no group and nobody's manager, for the deletion below
    const lone = ws.people.find((p) => !ws!.people.some((r) => r.managerId === p.employeeId))!;
    ws.writeGroups(ws.groups.map((g) => ({ ...g, members: g.members.filter((m) => m !== lone.employeeId) })));
    const first = await cycle();
    expect(exported(first.report).added).toBe(30 + ws.groups.length);

    // The cycle right after the load: the export proved (by a count) that the target changed only by its own
    // writes, so the delta starts after them. Discovery (3: ServiceProviderConfig, Schemas, ResourceTypes: a
    // fresh engine) + one delta listing of users + one of groups (members included): 5 requests, none a write.
    const quiet = await cycle();
    expect(exported(quiet.report)).toEqual({ added: 0, updated: 0, deleted: 0, errors: 0 });
    expect(quiet.requests).toBe(5);
    expect(quiet.writes).toBe(0);
    const loaded = await snapshot();

    // Drift: someone changes a user and a group's members directly in the target. The delta sees both, and the
    // engine puts back what the rules say: the target is again what a full sync gives.
    const drifted = ws.people[4]!.email.toLowerCase();
    const user = await userByName(drifted);
    expect((await service.request('PATCH', `/Users/${user.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'displayName', value: 'Someone Else' }] })).status).toBe(200);
    const group = await groupByName('Project 1');
    const full = (await service.request('GET', `/Groups/${group.id}`)).body;
    const dropped = full.members[0].value;
    expect((await service.request('PATCH', `/Groups/${group.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'remove', path: `members[value eq "${dropped}"]` }] })).status).toBeLessThan(300);
    const repaired = await cycle();
    expect(exported(repaired.report)).toMatchObject({ updated: 2, errors: 0 });
    expect(await snapshot()).toEqual(loaded);
    // and a full sync finds nothing left to do
    const check = await cycle(true);
    expect(exported(check.report)).toEqual({ added: 0, updated: 0, deleted: 0, errors: 0 });
    expect(await snapshot()).toEqual(loaded);

    // A user deleted in the target: SCIM lists no deletions, so deltas do not see it (as with Entra's
    // provisioning service); the full reconciliation (fullImportEvery, or a full cycle) creates it again.
    // (One in no group and nobody's manager: the server would change those objects, which a delta does see.)
    const gone = lone.email.toLowerCase();
    expect((await service.request('DELETE', `/Users/${(await userByName(gone)).id}`)).status).toBe(204);
    const blind = await cycle();
    expect(exported(blind.report)).toEqual({ added: 0, updated: 0, deleted: 0, errors: 0 });
    expect(blind.requests).toBe(5);
    expect(await userByName(gone)).toBeUndefined();
    const reconciled = await cycle(true);
    expect(exported(reconciled.report)).toMatchObject({ added: 1, errors: 0 });
    expect(await userByName(gone)).toMatchObject({ userName: gone, active: true });
    expect(await snapshot()).toEqual(loaded);
  });
});
