/**
 * The portal as an administrator meets it: a sample installation in a temp folder (the sample config and
 * CSVs, one cycle run), an admin account made with the CLI, `idsync serve` as a child process, and Debian's
 * Chromium driven by playwright-core. Console errors and page errors are collected for the test to assert on.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { PORTAL_BUILD } from '../../src/portal/serve.js';
import { type CliResult, runCli, startCli } from './cli.js';
import { type Workspace, workspace } from './workspace.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/**
 * Where the browser test's screenshots go: docs/portal/ when IDSYNC_PORTAL_SCREENSHOTS=docs (to refresh the
 * pictures docs/portal.md shows), else a temp folder, so a test run leaves the repository as it was.
 */
export const SCREENSHOTS =
  process.env.IDSYNC_PORTAL_SCREENSHOTS === 'docs'
    ? fileURLToPath(new URL('../../docs/portal/', import.meta.url))
    : join(tmpdir(), `idsync-portal-screenshots-${process.pid}`);

/** Builds the portal when dist has none (scripts/test.sh builds it with everything else first). */
export function ensurePortalBuilt(): void {
  if (existsSync(`${PORTAL_BUILD}/index.html`)) return;
  execFileSync('npm', ['run', '--silent', 'build:portal'], { cwd: ROOT, stdio: 'inherit' });
}

export interface PortalSite {
  ws: Workspace;
  args: string[];
  url: string;
  username: string;
  password: string;
  browser: Browser;
  /** every console error and page error seen by any page */
  consoleErrors: string[];
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  cli(...args: string[]): Promise<CliResult>;
  stderr(): string;
  close(): Promise<void>;
}

export async function startPortal(
  options: {
    people?: number;
    /** after the first cycle, before serve starts (change the sources, run the CLI) */
    prepare?: (ws: Workspace, cli: (...args: string[]) => Promise<CliResult>) => Promise<void>;
  } = {},
): Promise<PortalSite> {
  ensurePortalBuilt();
  const ws = workspace({ people: options.people ?? 20 });
  const args = ['--config', ws.configPath];
  const cli = (...a: string[]) => runCli([...args, ...a]);
  const first = await cli('run', '--once');
  if (first.code !== 0) throw new Error(`the first cycle failed: ${first.stderr}`);
  const username = 'alice';
  const created = await cli('admin', 'create', username, '--role', 'admin');
  if (created.code !== 0) throw new Error(`idsync admin create failed: ${created.stderr}`);
  const password = created.stdout.trim();
  await options.prepare?.(ws, cli);

  const { child, done } = startCli([...args, 'serve', '--port', '0', '--quiet']);
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = /(https?:\/\/[^\s/]+)\/scim\/v2/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
  });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const consoleErrors: string[] = [];
  const contexts: BrowserContext[] = [];
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    ws,
    args,
    url,
    username,
    password,
    browser,
    consoleErrors,
    async newPage(viewport = { width: 1280, height: 800 }) {
      const context = await browser.newContext({ viewport, baseURL: url });
      contexts.push(context);
      const page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(`${page.url()} (${m.location().url}): ${m.text()}`);
      });
      page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
      return page;
    },
    cli,
    stderr: () => stderr,
    async close() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close();
      child.kill('SIGTERM');
      await done;
      ws.cleanup();
      if (process.env.IDSYNC_PORTAL_SCREENSHOTS !== 'docs')
        rmSync(SCREENSHOTS, { recursive: true, force: true });
    },
  };
}

/** Signs in through the login form. */
export async function signIn(page: Page, site: PortalSite): Promise<void> {
  await page.goto('/');
  await page.getByLabel('User name').fill(site.username);
  await page.getByLabel('Password').fill(site.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
}
