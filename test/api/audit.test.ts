/**
 * The audit log's retention and time filter over real HTTP: entries older than serve.audit.retentionDays are
 * gone once the service has started (it prunes at start and daily), younger ones stay, and GET /audit
 * filters by since/until (a time with an offset is the same instant).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';
import { loadConfig } from '../../src/config/load.js';
import { AccountStore } from '../../src/store/accounts.js';
import { type Harness, startHarness } from './harness.js';

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    people: 5,
    config: `${SAMPLE_CONFIG}\nserve:\n  audit:\n    retentionDays: 30\n`,
    // entries written before the service starts: one beyond the retention, two within it
    beforeStart: async (ws) => {
      const accounts = await AccountStore.open(loadConfig(ws.configPath));
      await accounts.audit({ actor: 'account old', action: 'connectors.approve', target: 'hr', result: 'ok', status: 200 }, ago(45));
      await accounts.audit({ actor: 'account kept', action: 'connectors.approve', target: 'hr', result: 'ok', status: 200 }, ago(20));
      await accounts.audit({ actor: 'account kept', action: 'connectors.lift', target: 'hr', result: 'ok', status: 200 }, ago(3));
      await accounts.close();
    },
  });
}, 60_000);
afterAll(() => h?.stop());

describe('audit log', () => {
  it('keeps serve.audit.retentionDays, pruned when the service starts', async () => {
    const all = (await h.call('GET', '/audit?limit=1000', { token: h.tokens.reader })).body.items;
    expect(all.some((a: any) => a.actor === 'account old')).toBe(false);
    expect(all.filter((a: any) => a.actor === 'account kept').map((a: any) => a.action)).toEqual(['connectors.lift', 'connectors.approve']);
  });

  it('filters by time: since, until, and both', async () => {
    const list = async (q: string) => (await h.call('GET', `/audit?${q}`, { token: h.tokens.reader })).body.items.map((a: any) => a.action);
    expect(await list(`until=${encodeURIComponent(ago(10).toISOString())}`)).toEqual(['connectors.approve']);
    expect(await list(`since=${encodeURIComponent(ago(25).toISOString())}&until=${encodeURIComponent(ago(1).toISOString())}`)).toEqual(['connectors.lift', 'connectors.approve']);
    // the same instant written with an offset
    const at = ago(10);
    const offset = new Date(at.getTime() + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
    expect(await list(`since=${encodeURIComponent(ago(25).toISOString())}&until=${encodeURIComponent(offset)}`)).toEqual(['connectors.approve']);
    const recent = await list(`since=${encodeURIComponent(ago(1).toISOString())}`);
    expect(recent).not.toContain('connectors.approve');
    expect(recent).not.toContain('connectors.lift');
    const bad = await h.call('GET', '/audit?since=yesterday', { token: h.tokens.reader });
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].path).toEqual(['query', 'since']);
  });
});
