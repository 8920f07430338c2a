/**
 * The agent's filtering of import pages (src/agent/scope/filter.ts) and which rules' filters go to an agent
 * (qualify.ts): the rules as idsync.yaml writes them, compiled by the config loader.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentScopeFilter } from '../../../src/agent/scope/filter.js';
import { agentScope } from '../../../src/agent/scope/qualify.js';
import { parseConfig } from '../../../src/config/load.js';
import type { ImportPage } from '../../../src/connectors/contract.js';

const folders: string[] = [];
afterEach(() => {
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});
const folder = () => {
  const f = mkdtempSync(join(tmpdir(), 'idsync-scope-unit-'));
  folders.push(f);
  return join(f, 'kept');
};

const person = (anchor: string, department: string, title = 'Engineer') => ({
  kind: 'upsert' as const,
  object: { anchor, objectType: 'person', name: `cn=${anchor},ou=people`, attributes: { Department: [department], title: [title] } },
});

const scope = {
  person: [
    [[{ attribute: 'department', operator: 'IS IN', value: ['Sales', 'Engineering'] }]],
    [[{ attribute: 'TITLE', operator: 'EQUALS', value: 'Head' }]],
  ],
};

describe('the agent filters import pages', () => {
  it('a full import leaves out what no rule takes; an object in any one rule crosses', () => {
    const s = new AgentScopeFilter(scope).open('full', undefined, folder(), null);
    const page: ImportPage = { changes: [person('a', 'Sales'), person('b', 'Legal'), person('c', 'Legal', 'Head'), { kind: 'delete', anchor: 'd' }], watermark: 'w1' };
    const out = s.apply(page);
    expect(out.changes.map((c) => (c.kind === 'upsert' ? c.object.anchor : `${c.kind}:${'anchor' in c ? c.anchor : ''}`))).toEqual(['a', 'c', 'delete:d']);
    expect(out.watermark).toBe('w1');
    expect(s.counts).toEqual({ sent: 2, kept: 1, anchorsOnly: 0, same: 0 });
  });

  it('a delta sends an out-of-scope object as the delete of its anchor, nothing else of it', () => {
    const s = new AgentScopeFilter(scope).open('delta', undefined, folder(), 'w0');
    const out = s.apply({ changes: [person('b', 'Legal')] });
    expect(out.changes).toEqual([{ kind: 'delete', anchor: 'b', objectType: 'person' }]);
    expect(s.counts.anchorsOnly).toBe(1);
  });

  it('a partial change is marked onlyIfKnown unless it touches what the filters read', () => {
    const s = new AgentScopeFilter(scope).open('delta', undefined, folder(), 'w0');
    const out = s.apply({
      changes: [
        { kind: 'modify', anchor: 'a', objectType: 'person', changes: { mail: { replace: ['x@example.com'] } } },
        { kind: 'modify', anchor: 'b', objectType: 'person', changes: { department: { replace: ['Sales'] } } },
        { kind: 'modify', anchor: 'g', objectType: 'group', changes: { member: { add: ['a'] } } },
      ],
    });
    expect(out.changes.map((c) => c.kind === 'modify' && c.onlyIfKnown === true)).toEqual([true, false, false]);
  });

  it('reads the name under the connector name attribute, as the engine does', () => {
    const byName = new AgentScopeFilter({ person: [[[{ attribute: 'dn', operator: 'ENDS_WITH', value: ',ou=staff' }]]] });
    const s = byName.open('full', 'DN', folder(), null);
    const staff = { kind: 'upsert' as const, object: { anchor: 'x', objectType: 'person', name: 'cn=x,ou=staff', attributes: {} } };
    expect(s.apply({ changes: [staff, person('y', 'Sales')] }).changes).toEqual([staff]);
  });

  it('a `same` of an object the import that left the watermark kept stays here; the rest cross as anchors', () => {
    const dir = folder();
    const filter = new AgentScopeFilter(scope);
    const first = filter.open('full', undefined, dir, null);
    first.apply({ changes: [person('a', 'Sales'), person('b', 'Legal')], watermark: 'w1' });
    first.finish();
    expect(readdirSync(dir)).toHaveLength(1);
    const second = filter.open('full', undefined, dir, 'w1');
    const out = second.apply({ changes: [{ kind: 'same', anchor: 'a' }, { kind: 'same', anchor: 'b' }], watermark: 'w2' });
    expect(out.changes).toEqual([{ kind: 'same', anchor: 'a' }]);
    expect(second.counts).toEqual({ sent: 0, kept: 1, anchorsOnly: 0, same: 1 });
    second.finish();
    // other filters do not read what these kept
    const other = new AgentScopeFilter({ person: [[[{ attribute: 'title', operator: 'EQUALS', value: 'Head' }]]] }).open('full', undefined, dir, 'w2');
    expect(other.apply({ changes: [{ kind: 'same', anchor: 'b' }] }).changes).toEqual([{ kind: 'same', anchor: 'b' }]);
  });
});

const config = (rules: string) =>
  parseConfig(
    `version: 1
connectors:
  hr: { type: csv, path: hr.csv, objectType: person, anchor: id, agent: onprem }
  dir: { type: builtin }
rules:
${rules}`,
    '/tmp/idsync.yaml',
  );
const inbound = (name: string, scopeYaml: string) => `  - name: ${name}
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    project: true
${scopeYaml}    flows: [{ target: employeeId, source: id }]
`;

describe('which filters go to the agent', () => {
  it('sends the filters of every rule reading the type, and they make the connector settings another', () => {
    const one = config(inbound('a', '    scope: [[{ attribute: dept, operator: EQUALS, value: Sales }]]\n'));
    const two = config(inbound('a', '    scope: [[{ attribute: dept, operator: EQUALS, value: Sales }]]\n') + inbound('b', '    scope: [[{ attribute: title, operator: EQUALS, value: Head }]]\n'));
    expect(one.connectors.get('hr')!.agent!.scope).toEqual({ person: [[[{ attribute: 'dept', operator: 'EQUALS', value: 'Sales' }]]] });
    expect(two.connectors.get('hr')!.agent!.scope!.person).toHaveLength(2);
    expect(two.connectors.get('hr')!.settingsHash).not.toBe(one.connectors.get('hr')!.settingsHash);
  });

  it('sends none when one rule takes every object, or asks the metaverse (IS MEMBER OF)', () => {
    const all = config(inbound('a', '    scope: [[{ attribute: dept, operator: EQUALS, value: Sales }]]\n') + inbound('b', ''));
    const member = config(inbound('a', '    scope: [[{ attribute: dept, operator: EQUALS, value: Sales }]]\n') + inbound('b', '    scope: [[{ attribute: memberOf, operator: IS MEMBER OF, value: Admins }]]\n'));
    expect(all.connectors.get('hr')!.agent!.scope).toBeUndefined();
    expect(member.connectors.get('hr')!.agent!.scope).toBeUndefined();
  });

  it('sends none for a connector an outbound rule writes to', () => {
    const c = config(inbound('a', '    scope: [[{ attribute: dept, operator: EQUALS, value: Sales }]]\n'));
    expect(agentScope('hr', c.inbound, [{ ...c.inbound[0]!, direction: 'outbound', provision: true, deprovision: 'leave' }])).toBeUndefined();
  });
});
