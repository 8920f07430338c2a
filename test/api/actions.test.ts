/**
 * The admin API's objects and actions over real HTTP, on a serve engine running its loop: search by name,
 * one identity with its objects, explain, live progress as Server-Sent Events during a run asked for, plan
 * with its held part, approve, provision on demand for one person only, retry, lift a quarantine; agents,
 * tokens and config; each role's 401/403 and the audit entries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactedYaml } from '../../src/api/handlers.js';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ people: 30 });
  await h.firstCycle;
}, 60_000);
afterAll(() => h?.stop());

const as = (role: 'reader' | 'operator' | 'admin') => h.tokens[role];

/** Waits until the newest run is finished and newer than `after`. */
async function runAfter(after: number): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const [run] = (await h.call('GET', '/runs?limit=1', { token: as('reader') })).body.items;
    if (run && run.id > after && run.finishedAt) return run;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no run finished');
}

describe('objects', () => {
  it('finds a person by name and shows their objects in every connector, with attributes', async () => {
    const person = h.ws.people[3]!;
    const found = await h.call('GET', `/objects?q=${encodeURIComponent(person.lastName)}`, { token: as('reader') });
    expect(found.status).toBe(200);
    const me = found.body.items.find((i: any) => i.objects.some((o: any) => o.anchor === person.employeeId));
    expect(me.id).toMatch(/^mv:/);
    expect(me.objects.map((o: any) => o.connector).sort()).toEqual(['directory', 'hr']);
    const one = await h.call('GET', `/objects/${me.id}`, { token: as('reader') });
    expect(one.status).toBe(200);
    expect(one.body.metaverse.attributes.email).toEqual([person.email]);
    expect(one.body.objects.find((o: any) => o.connector === 'hr').attributes.title).toEqual([person.title]);
    expect((await h.call('GET', '/objects/mv:nope', { token: as('reader') })).status).toBe(404);
    const bad = await h.call('GET', '/objects/12', { token: as('reader') });
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].path).toEqual(['params', 'id']);
    expect((await h.call('GET', `/objects/${me.id}`)).status).toBe(401);
  });

  it('explains an object from its source without writing', async () => {
    const person = h.ws.people[4]!;
    const id = (await h.call('GET', `/objects?q=${person.employeeId}`, { token: as('reader') })).body.items[0].id;
    const res = await h.call('GET', `/objects/${id}/explain`, { token: as('reader') });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ connector: 'hr', anchor: person.employeeId });
    expect(res.body.steps.length).toBeGreaterThan(0);
    expect(res.body.metaverse.id).toBe(id.slice(3));
    const unknownConnector = await h.call('GET', `/objects/${id}/explain?connector=ghost`, { token: as('reader') });
    expect(unknownConnector.status).toBe(404);
  });
});

describe('actions', () => {
  it('runs a cycle when asked and streams its progress as Server-Sent Events', async () => {
    const before = (await h.call('GET', '/runs?limit=1', { token: as('reader') })).body.items[0].id;
    const controller = new AbortController();
    const res = await fetch(`${h.base}/progress`, { headers: { authorization: `Bearer ${as('reader')}` }, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const finished = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += new TextDecoder().decode(value);
        if (/event: run\ndata: \{[^\n]*"state":"finished"/.test(text)) return;
      }
    })();
    expect((await h.call('POST', '/actions/run', { token: as('reader'), body: { full: true } })).status).toBe(403);
    const asked = await h.call('POST', '/actions/run', { token: as('operator'), body: { full: true } });
    expect(asked.status).toBe(202);
    expect(asked.body).toEqual({ queued: true, connectors: ['hr', 'hr-groups', 'directory'], full: true });
    await finished;
    controller.abort();
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({ event: m[1], data: JSON.parse(m[2]!) }));
    const started = events.find((e) => e.event === 'run' && e.data.state === 'started')!;
    expect(started.data).toMatchObject({ kind: 'full', runId: expect.any(Number) });
    expect(started.data.runId).toBeGreaterThan(before);
    const progress = events.filter((e) => e.event === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]!.data).toMatchObject({ runId: started.data.runId, connector: expect.any(String), count: expect.any(Number), rate: expect.any(Number) });
    const audit = await h.call('GET', '/audit?action=actions.run', { token: as('reader') });
    expect(audit.body.items.map((e: any) => `${e.actor} ${e.result} ${e.target}`)).toEqual(['token script-operator ok all', 'token script-reader API_FORBIDDEN all']);
  });

  it('plans with the held part, approves the hold, and the next run deletes what was held', async () => {
    const gone = h.ws.people.slice(-5);
    h.ws.writePeople(h.ws.people.slice(0, -5));
    const plan = await h.call('POST', '/plan', { token: as('operator') });
    expect(plan.status).toBe(200);
    expect(plan.body.status).toBe('held');
    expect(plan.body.holds[0]).toMatchObject({ connector: 'hr', phase: 'import', count: 5 });
    expect(plan.body.held.length).toBeGreaterThanOrEqual(5);
    expect(plan.body.held.every((c: any) => c.held)).toBe(true);
    const hr = (await h.call('GET', '/connectors/hr', { token: as('reader') })).body;
    expect(hr.health).toBe('held');
    expect((await h.call('POST', '/connectors/hr/approve', { token: as('reader') })).status).toBe(403);
    expect((await h.call('POST', '/connectors/ghost/approve', { token: as('operator') })).status).toBe(404);
    expect((await h.call('POST', '/connectors/hr/approve', { token: as('operator') })).status).toBe(200);
    const last = (await h.call('GET', '/runs?limit=1', { token: as('reader') })).body.items[0].id;
    expect((await h.call('POST', '/actions/run', { token: as('operator'), body: { connector: 'hr', full: true } })).status).toBe(202);
    await runAfter(last);
    const log = await h.call('GET', `/log?object=${encodeURIComponent(gone[0]!.email)}&connector=directory`, { token: as('reader') });
    expect(log.body.items.some((e: any) => e.action === 'delete' || e.action === 'disable')).toBe(true);
    const audit = await h.call('GET', '/audit?action=connectors.approve', { token: as('admin') });
    expect(audit.body.items.map((e: any) => `${e.result} ${e.target}`)).toEqual(['ok hr', 'API_NOT_FOUND ghost', 'API_FORBIDDEN hr']);
  }, 120_000);

  it('provisions one person on demand: explain, then only their change is sent', async () => {
    const people = h.ws.people.slice(0, -5);
    const [ann, bob] = [people[1]!, people[2]!];
    h.ws.writePeople(people.map((p) => (p === ann ? { ...p, title: 'Provisioned on demand' } : p === bob ? { ...p, title: 'Waits for the cycle' } : p)));
    // a plan imports and syncs: both changes wait as pending exports, nothing is sent
    const titles = (await h.call('POST', '/plan', { token: as('operator') })).body.changes.filter((c: any) => c.attributes.some((a: any) => a.attribute === 'title'));
    expect(titles.map((c: any) => c.attributes.find((a: any) => a.attribute === 'title').new[0]).sort()).toEqual(['Provisioned on demand', 'Waits for the cycle']);
    const id = (await h.call('GET', `/objects?q=${ann.employeeId}`, { token: as('reader') })).body.items[0].id;
    expect((await h.call('POST', `/objects/${id}/provision`, { token: as('reader') })).status).toBe(403);
    const res = await h.call('POST', `/objects/${id}/provision`, { token: as('operator') });
    expect(res.status).toBe(200);
    expect(res.body.explanation).toMatchObject({ connector: 'hr', anchor: ann.employeeId });
    // the deletions the earlier approval let through may still hold other objects' deletes: not Ann's update
    expect(['ok', 'held']).toContain(res.body.result.status);
    expect(res.body.result.changes).toEqual([
      expect.objectContaining({ connector: 'directory', op: 'update', attributes: expect.arrayContaining([{ attribute: 'title', old: [ann.title], new: ['Provisioned on demand'] }]) }),
    ]);
    const dir = (await h.call('GET', `/objects/${id}`, { token: as('reader') })).body.objects.find((o: any) => o.connector === 'directory');
    expect(dir.attributes.title).toEqual(['Provisioned on demand']);
    const bobId = (await h.call('GET', `/objects?q=${bob.employeeId}`, { token: as('reader') })).body.items[0].id;
    const bobDir = (await h.call('GET', `/objects/${bobId}`, { token: as('reader') })).body.objects.find((o: any) => o.connector === 'directory');
    expect(bobDir.attributes.title).toEqual([bob.title]);
    const runs = (await h.call('GET', '/runs?limit=1', { token: as('reader') })).body.items;
    expect(runs[0]).toMatchObject({ kind: 'provision' });
    // nothing waits for Ann any more; Bob's export does
    const retry = await h.call('POST', `/objects/${id}/retry`, { token: as('operator'), body: { connector: 'directory' } });
    expect(retry.status).toBe(409);
    expect(retry.body.code).toBe('EXPORT_NOT_PENDING');
    const retried = await h.call('POST', `/objects/${bobId}/retry`, { token: as('operator'), body: { connector: 'directory' } });
    expect(retried.status).toBe(200);
    expect(retried.body.changes).toHaveLength(1);
    expect((await h.call('POST', `/objects/${bobId}/retry`, { token: as('operator'), body: {} })).status).toBe(400);
  }, 120_000);

  it('lifts a quarantine (operator only)', async () => {
    expect((await h.call('POST', '/connectors/directory/quarantine/lift', { token: as('reader') })).status).toBe(403);
    expect((await h.call('POST', '/connectors/directory/quarantine/lift', { token: as('operator') })).body).toEqual({ ok: true });
  });
});

describe('agents, tokens, config', () => {
  it('makes an agent registration token (admin), lists agents (reader), revokes (admin)', async () => {
    expect((await h.call('GET', '/agents', { token: as('reader') })).body).toEqual({ items: [] });
    expect((await h.call('POST', '/agents/tokens', { token: as('operator'), body: { group: 'onprem' } })).status).toBe(403);
    const made = await h.call('POST', '/agents/tokens', { token: as('admin'), body: { group: 'onprem', ttlMinutes: 30 } });
    expect(made.status).toBe(201);
    expect(made.body.token).toMatch(/^idsync_agentreg_/);
    expect((await h.call('POST', '/agents/tokens', { token: as('admin'), body: { group: 'bad group!' } })).status).toBe(400);
    expect((await h.call('DELETE', '/agents/agent-none', { token: as('admin') })).status).toBe(404);
    const audit = (await h.call('GET', '/audit?action=agents.token', { token: as('admin') })).body.items;
    expect(audit[1]).toMatchObject({ result: 'ok', target: 'onprem' });
    expect(JSON.stringify(audit)).not.toContain(made.body.token);
  });

  it('makes, lists and revokes SCIM and API tokens (admin), never showing one again', async () => {
    expect((await h.call('GET', '/tokens', { token: as('operator') })).status).toBe(403);
    const api = await h.call('POST', '/tokens', { token: as('admin'), body: { name: 'ci', kind: 'api', role: 'reader' } });
    expect(api.status).toBe(201);
    const scim = await h.call('POST', '/tokens', { token: as('admin'), body: { name: 'entra', kind: 'scim' } });
    expect(scim.status).toBe(201);
    expect((await h.call('POST', '/tokens', { token: as('admin'), body: { name: 'ci', kind: 'scim' } })).status).toBe(409);
    expect((await h.call('POST', '/tokens', { token: as('admin'), body: { name: 'x', kind: 'api' } })).status).toBe(400);
    const listed = await h.call('GET', '/tokens', { token: as('admin') });
    expect(listed.body.items.map((t: any) => `${t.kind} ${t.name}`)).toEqual(expect.arrayContaining(['api ci', 'scim entra', 'api script-admin']));
    expect(listed.text).not.toContain(api.body.token);
    expect(listed.text).not.toContain(scim.body.token);
    expect((await h.call('GET', '/connectors', { token: api.body.token })).status).toBe(200);
    expect((await h.call('DELETE', '/tokens/ci', { token: as('admin') })).status).toBe(200);
    expect((await h.call('DELETE', '/tokens/ci', { token: as('admin') })).status).toBe(404);
    expect((await h.call('GET', '/connectors', { token: api.body.token })).status).toBe(401);
  });

  it('shows the config with secrets as "set", and validates a proposed one without saving it', async () => {
    const res = await h.call('GET', '/config', { token: as('reader') });
    expect(res.status).toBe(200);
    expect(res.body.connectors).toEqual(['hr', 'hr-groups', 'directory']);
    expect(res.body.yaml).toContain('connectors:');
    const bad = await h.call('POST', '/config/validate', { token: as('admin'), body: { yaml: 'connectors:\n  hr: { type: nope }\nrules: 3\n' } });
    expect(bad.status).toBe(200);
    expect(bad.body.valid).toBe(false);
    expect(bad.body.issues.length).toBeGreaterThan(1);
    expect(bad.body.issues[0]).toMatchObject({ code: expect.any(String), path: expect.any(Array), message: expect.any(String) });
    const proposed = res.body.yaml.replace(/^  hr-groups:[\s\S]*?(?=^  directory:)/m, '');
    const good = await h.call('POST', '/config/validate', { token: as('admin'), body: { yaml: `${proposed}` } });
    expect(good.body.valid === true || good.body.issues.length > 0).toBe(true);
    expect((await h.call('POST', '/config/validate', { token: as('operator'), body: { yaml: '' } })).status).toBe(403);
    expect((await h.call('POST', '/config/validate', { token: as('admin'), body: {} })).status).toBe(400);
  });

  it('shows every secret-looking value of a config as "set"', () => {
    const text = 'connectors:\n  ad:\n    type: ldap\n    bindPassword: hunter2-secret\n    clientSecret: ${env:X}\n    url: ldaps://dc\nserve:\n  auth: { token: abc123 }\n';
    const shown = redactedYaml(text);
    expect(shown).not.toContain('hunter2-secret');
    expect(shown).not.toContain('abc123');
    expect(shown).toContain('bindPassword: set');
    expect(shown).toContain('url: ldaps://dc');
  });
});
