/**
 * The portal in real Chromium against a real `idsync serve` on the sample installation: an administrator
 * signs in (a wrong password and a lock-out say so), sees the sample's connectors, finds a person's change in
 * the provisioning log by name (old → new), follows a cycle live, provisions a person on demand, reviews and
 * approves held deletions, and every page draws without a console error. Screenshots: see helpers/portal.ts.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PortalSite, SCREENSHOTS, signIn, startPortal } from '../helpers/portal.js';

let site: PortalSite;
let page: Page;

beforeAll(async () => {
  site = await startPortal({
    people: 20,
    // a person's title changes and a cycle carries it: the provisioning log then has an update, old → new
    prepare: async (ws, cli) => {
      const person = ws.people[3]!;
      ws.people[3] = { ...person, title: `Chief ${person.title}` };
      ws.writePeople(ws.people);
      const run = await cli('run', '--once');
      if (run.code !== 0) throw new Error(`the second cycle failed: ${run.stderr}`);
    },
  });
  page = await site.newPage();
  page.setDefaultTimeout(30_000);
}, 240_000);
afterAll(async () => {
  await site?.close();
});

const shot = (name: string, p: Page = page) =>
  p.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });

/** "Run now" on the overview, then wait until the live progress reports that new run finished; its status. */
async function runNow(): Promise<string> {
  await page.goto('/');
  await page.locator('.dot-open').waitFor();
  const shown = page.locator('[data-run-id]');
  const before = (await shown.count()) > 0 ? await shown.getAttribute('data-run-id') : null;
  await page.getByRole('button', { name: 'Run now (all connectors)' }).click();
  await page.getByRole('status').filter({ hasText: 'A cycle is on its way' }).waitFor();
  await expect
    .poll(
      async () =>
        (await shown.count()) > 0 &&
        (await shown.getAttribute('data-run-id')) !== before &&
        (await shown.getAttribute('data-run-status')) !== 'running',
      { timeout: 90_000 },
    )
    .toBe(true);
  return (await shown.getAttribute('data-run-status')) ?? '';
}

describe('the portal in Chromium', () => {
  it('refuses a wrong password, tells a locked-out account so, and signs an administrator in', async () => {
    await page.goto('/');
    await page.getByRole('heading', { name: 'Sign in to idsync' }).waitFor();
    await shot('login');
    for (let i = 0; i < 5; i++) {
      await page.getByLabel('User name').fill('mallory');
      await page.getByLabel('Password').fill(`wrong password ${i}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').waitFor();
    }
    await page.getByLabel('User name').fill('mallory');
    await page.getByLabel('Password').fill('wrong password again');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/locked/);

    await signIn(page, site);
    expect(await page.locator('.account').textContent()).toContain('alice');
  });

  it('shows every connector of the sample config with its health and counts', async () => {
    for (const name of ['hr', 'hr-groups', 'directory']) {
      const row = page.locator(`tr[data-connector="${name}"]`);
      await row.waitFor();
      expect(await row.textContent()).toMatch(/ok|warning/);
    }
    expect(await page.locator('tr[data-connector="hr"] td.num').first().textContent()).toBe('20');
    await page.locator('.chart svg rect').first().waitFor();
    await shot('overview');
  });

  it("finds a person's change in the provisioning log by name and shows old → new", async () => {
    const person = site.ws.people[3]!;
    const name = `${person.firstName} ${person.lastName}`;
    await page.getByRole('link', { name: 'Provisioning logs' }).click();
    await page.getByLabel(/Identity/).fill(name);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('table.log tbody tr').first().waitFor();
    const update = page.locator('table.log tbody tr', { hasText: 'update' }).first();
    await update.getByRole('link').click();
    const detail = page.locator('section.detail');
    await detail.getByRole('heading', { name: 'Modified properties' }).waitFor();
    const title = detail.locator('table.changes tr', { hasText: 'title' });
    await title.waitFor();
    expect(await title.locator('td.old').textContent()).toBe(person.title.replace(/^Chief /, ''));
    expect(await title.locator('td.new').textContent()).toBe(person.title);
    await shot('log');
  });

  it("follows a cycle's progress live", async () => {
    const person = site.ws.people[7]!;
    site.ws.people[7] = { ...person, title: `Senior ${person.title}` };
    site.ws.writePeople(site.ws.people);
    const status = await runNow();
    expect(status).toMatch(/ok|errors/);
    const lines = page.locator('.progress-line');
    expect(await lines.count()).toBeGreaterThan(0);
    expect(await lines.first().textContent()).toMatch(/\d/);
    expect(await page.locator('.progress-line[data-phase]').first().getAttribute('data-phase')).toMatch(
      /import|export|sync|inbound|outbound/,
    );
    await shot('progress');
  });

  it('provisions one person on demand and shows the result', async () => {
    const person = site.ws.people[5]!;
    site.ws.people[5] = { ...person, department: 'Research' };
    site.ws.writePeople(site.ws.people);
    await page.getByRole('link', { name: 'Objects' }).click();
    await page.getByLabel(/Name/).fill(person.email);
    await page.getByRole('button', { name: 'Find' }).click();
    await page.locator('ul.found li a').first().click();
    await page.getByRole('heading', { name: 'Provision on demand' }).waitFor();
    await page.getByRole('heading', { name: 'Metaverse' }).waitFor();
    await page.getByRole('button', { name: 'Provision on demand' }).click();
    const outcome = page.locator('.outcome');
    await outcome.waitFor();
    expect(await outcome.getAttribute('data-outcome')).not.toMatch(/fail|error/);
    await shot('object');
  });

  it('holds deletions beyond the threshold, shows them for review, and approves them', async () => {
    // the sample's threshold is 10% of 20 people: five leaving at once are held
    site.ws.writePeople(site.ws.people.slice(0, 15));
    await runNow();
    await page.getByRole('link', { name: 'Held deletions' }).first().click();
    const hold = page.locator('section.hold').first();
    await hold.waitFor();
    expect(await hold.textContent()).toContain('5');
    await shot('holds');
    await hold.getByRole('button', { name: 'Approve…' }).click();
    await hold.getByRole('button', { name: /Yes, approve/ }).click();
    await hold.getByText('Approved').waitFor();
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.locator('table tbody tr', { hasText: 'approve' }).first().waitFor();
    await shot('audit');
    // filtered by time: the approval is within the last hour, and after the end of yesterday there is nothing
    await page.getByLabel('Since').selectOption({ label: 'Last hour' });
    await page.locator('table tbody tr', { hasText: 'approve' }).first().waitFor();
    const yesterday = new Date(Date.now() - 86_400_000);
    const day = `${yesterday.getFullYear()}-${String(yesterday.getMonth() + 1).padStart(2, '0')}-${String(yesterday.getDate()).padStart(2, '0')}`;
    await page.getByLabel('Up to (a day)').fill(day);
    await page.getByText('No actions recorded in that time.').waitFor();
  });

  it('validates a proposed config and shows its problems by line:column, then its plan, saving nothing', async () => {
    const directory = site.ws.directory();
    const targetBefore = { sequence: directory.currentSequence(), objects: directory.list({ limit: 10_000 }) };
    directory.close();
    await page.goto('/config');
    await page.getByRole('heading', { name: 'Configuration', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Propose a change…' }).click();
    const editor = page.getByLabel(/The whole file, edited/);
    const current = await editor.inputValue();
    // a mistake on a known line: the connector type of hr
    const lines = current.split('\n');
    const typeLine = lines.findIndex((l) => l.trim() === 'type: csv') + 1;
    await editor.fill(current.replace('type: csv', 'type: cvs'));
    await page.getByRole('button', { name: 'Validate and show plan' }).click();
    const problem = page.locator(`[data-validated="invalid"] li[data-line="${typeLine}"]`);
    await problem.waitFor();
    expect(await problem.textContent()).toContain(`${typeLine}:`);
    // the directory's titles upper-cased: the plan lists an update per person, old → new
    const at = current.lastIndexOf('- { target: title, source: title }');
    const proposed = `${current.slice(0, at)}- { target: title, expression: 'ToUpper([title])' }${current.slice(at + '- { target: title, source: title }'.length)}`;
    await editor.fill(proposed);
    await page.getByRole('button', { name: 'Validate and show plan' }).click();
    const row = page.locator('[data-validated="valid"] table.plan-counts tr[data-connector="directory"]');
    await row.waitFor({ timeout: 60_000 });
    const updates = Number((await row.locator('td').nth(1).textContent())?.replace(/\D/g, ''));
    expect(updates).toBeGreaterThan(5);
    const person = site.ws.people[7]!;
    const change = page.locator(`ul.plan-changes li[data-op="update"][data-object="${person.email.toLowerCase()}"]`);
    await change.locator('summary').click();
    const title = change.locator('table.changes tr', { hasText: 'title' });
    expect(await title.locator('td.old').textContent()).toContain(person.title);
    expect(await title.locator('td.new').textContent()).toContain(person.title.toUpperCase());
    await shot('config-plan');
    // nothing was written to the target, and the running config is as it was
    const after = site.ws.directory();
    expect({ sequence: after.currentSequence(), objects: after.list({ limit: 10_000 }) }).toEqual(targetBefore);
    after.close();
    await page.getByRole('button', { name: 'Discard' }).click();
    expect(await page.locator('pre.yaml').textContent()).toContain('target: title, source: title');
  }, 120_000);

  it('draws the other pages, on a laptop and on a phone, without a console error', async () => {
    await page.goto('/connectors/hr');
    await page.getByRole('heading', { name: 'hr', level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'Recent runs' }).waitFor();
    await shot('connector');
    await page.goto('/runs');
    await page.locator('table.runs tbody tr').first().waitFor();
    await shot('runs');
    for (const [path, heading] of [
      ['/agents', 'Agents'],
      ['/tokens', 'Tokens'],
      ['/config', 'Configuration'],
    ] as const) {
      await page.goto(path);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      await page.waitForLoadState('networkidle');
      await shot(path.slice(1));
    }
    const phone = await site.newPage({ width: 390, height: 844 });
    await signIn(phone, site);
    await phone.locator('tr[data-connector="hr"]').waitFor();
    await shot('overview-phone', phone);
    await phone.close();
    expect(site.consoleErrors.filter((e) => !expected(e))).toEqual([]);
  });
});

/**
 * Chromium logs every 4xx answer to the console: the portal's own session check before signing in (401) and
 * the login attempts the first test makes on purpose (401, 429) are such answers, not faults.
 */
function expected(error: string): boolean {
  return /\(\S*\/api\/v1\/session\): Failed to load resource: the server responded with a status of (401|429)/.test(
    error,
  );
}
