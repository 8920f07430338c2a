/**
 * The portal in real Chromium against a real `idsync serve` on the sample installation: an administrator
 * signs in (a wrong password and a lock-out say so), sees the sample's connectors, and finds a person's change
 * in the provisioning log by name (old → new). Screenshots: see helpers/portal.ts.
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

  it("draws a connector's detail, the runs and the audit log, and the overview on a phone", async () => {
    await page.goto('/connectors/hr');
    await page.getByRole('heading', { name: 'hr', level: 1 }).waitFor();
    await page.locator('table.runs tbody tr').first().waitFor();
    await shot('connector');
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    await page.locator('table.runs tbody tr').nth(1).waitFor();
    await shot('runs');
    await page.getByRole('link', { name: 'Audit log' }).click();
    // the lock-out and the sign-in of the first test are in it
    await page.locator('table tbody tr', { hasText: 'alice' }).first().waitFor();
    await shot('audit');
    const phone = await site.newPage({ width: 390, height: 844 });
    await signIn(phone, site);
    await phone.locator('tr[data-connector="hr"]').waitFor();
    await shot('overview-phone', phone);
    await phone.close();
  });
});
