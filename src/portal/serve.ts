/**
 * Serves the web portal (the Vite build of src/portal/app in dist/portal/app) at `/` of `idsync serve`, in
 * its own fastify scope: the built files as they are, index.html for the client routes (routes.ts), and a
 * page saying how to build the portal when the build is missing (running from the sources). The portal is
 * static: everything it shows comes from the admin API (/api/v1) with the signed-in account's session.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CLIENT_ROUTES } from './routes.js';

/**
 * Where the build lands: dist/portal/app at the package root. This file is src/portal/serve.ts when run from
 * the sources and dist/portal/serve.js when compiled: two levels below the root either way.
 */
export const PORTAL_BUILD = fileURLToPath(new URL('../../dist/portal/app/', import.meta.url));

/**
 * No script, style or frame from anywhere but idsync itself, no inline script, and the portal in no one
 * else's frame (clickjacking on "approve").
 */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export interface PortalOptions {
  /** the built portal's folder (tests); PORTAL_BUILD by default */
  root?: string;
  /**
   * first path segments that belong to others (SCIM endpoints' base paths, say): a client route of the same
   * name is then not mounted, so their answers stay theirs
   */
  reserved?: string[];
}

/** Whether the portal's build is there (`idsync serve` says so at start). */
export function portalBuilt(root: string = PORTAL_BUILD): boolean {
  return existsSync(`${root}/index.html`);
}

export async function registerPortal(app: FastifyInstance, options: PortalOptions = {}): Promise<void> {
  const root = options.root ?? PORTAL_BUILD;
  const reserved = new Set((options.reserved ?? []).map((s) => s.toLowerCase()));
  const built = portalBuilt(root);
  await app.register(async (scope) => {
    scope.addHook('onSend', async (_request, reply) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    });
    let page: (reply: FastifyReply) => FastifyReply;
    if (built) {
      await scope.register(fastifyStatic, {
        root,
        prefix: '/',
        // one route per built file, found at start: no catch-all route that could answer for /scim or /api
        wildcard: false,
        index: ['index.html'],
        setHeaders: (reply, path) => {
          // Vite names assets by their content hash: they never change; index.html names the current ones
          reply.header(
            'cache-control',
            /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache',
          );
        },
      });
      page = (reply) => reply.header('cache-control', 'no-cache').sendFile('index.html');
    } else {
      page = (reply) => reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT);
      scope.get('/', async (_request, reply) => page(reply));
    }
    for (const segment of CLIENT_ROUTES) {
      if (reserved.has(segment)) continue;
      scope.get(`/${segment}`, async (_request, reply) => page(reply));
      scope.get(`/${segment}/*`, async (_request, reply) => page(reply));
    }
  });
}

const NOT_BUILT = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>idsync: portal not built</title></head>
<body>
<main>
<h1>The idsync portal is not built</h1>
<p>This <code>idsync serve</code> runs from the sources, and the portal's files (<code>dist/portal/app</code>) are not there.</p>
<p>Build them in the idsync folder with <code>npm run build</code> (Vite, no download), then restart <code>idsync serve</code>.</p>
<p>The admin API answers meanwhile at <a href="/api/v1/openapi.json">/api/v1</a>; the SCIM endpoints and the CLI work as before.</p>
</main>
</body>
</html>
`;
