/**
 * The portal's client routes: the first path segment of each page. The server answers a browser's GET of
 * `/SEGMENT` or `/SEGMENT/...` with the portal's index.html (the page then draws itself); nothing else falls
 * back, so /scim, /api, /agent, /metrics and /health keep their own answers and their own 404s.
 * Shared by the server (src/portal/serve.ts) and the app's router (src/portal/app/src/router.tsx).
 */
export const CLIENT_ROUTES = [
  'login',
  'connectors',
  'runs',
  'log',
  'objects',
  'holds',
  'agents',
  'tokens',
  'audit',
  'config',
] as const;

export type ClientRoute = (typeof CLIENT_ROUTES)[number];
