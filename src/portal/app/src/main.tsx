/**
 * The idsync portal: a session (the login form until there is one), a header with the pages, and the page
 * the URL names. Every figure comes from the admin API (/api/v1) with the signed-in account's rights.
 */
import { type JSX, render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { CLIENT_ROUTES } from '../../routes';
import { type ApiError, api, onUnauthorized, type Role, type Session, setCsrf } from './api';
import { AgentsPage } from './pages/agents';
import { AuditPage } from './pages/audit';
import { ConfigPage } from './pages/config';
import { ConnectorPage } from './pages/connector';
import { HoldsPage } from './pages/holds';
import { LogPage } from './pages/log';
import { LoginPage } from './pages/login';
import { ObjectPage, ObjectsPage } from './pages/objects';
import { OverviewPage } from './pages/overview';
import { RunsPage } from './pages/runs';
import { TokensPage } from './pages/tokens';
import { Link, match, navigate, useLocation } from './router';
import './styles.css';

const NAV: { href: string; label: string; segment: string }[] = [
  { href: '/', label: 'Overview', segment: '' },
  { href: '/runs', label: 'Runs', segment: 'runs' },
  { href: '/log', label: 'Provisioning logs', segment: 'log' },
  { href: '/objects', label: 'Objects', segment: 'objects' },
  { href: '/holds', label: 'Held deletions', segment: 'holds' },
  { href: '/agents', label: 'Agents', segment: 'agents' },
  { href: '/tokens', label: 'Tokens', segment: 'tokens' },
  { href: '/audit', label: 'Audit log', segment: 'audit' },
  { href: '/config', label: 'Configuration', segment: 'config' },
];

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [failure, setFailure] = useState<ApiError | undefined>(undefined);
  const loc = useLocation();

  const signedIn = useCallback((s: Session) => {
    setCsrf(s.csrfToken);
    setSession(s);
  }, []);

  useEffect(() => {
    api<Session>('GET', '/session').then(signedIn, (e: ApiError) => {
      if (e.status === 401) setSession(null);
      else setFailure(e);
    });
    return onUnauthorized(() => {
      setCsrf(undefined);
      setSession(null);
    });
  }, [signedIn]);

  useEffect(() => {
    const name = NAV.find((n) => n.segment === loc.path.split('/')[1])?.label;
    document.title = name && session ? `${name} · idsync` : 'idsync';
  }, [loc.path, session]);

  if (failure) {
    return (
      <main id="main" class="center">
        <h1>idsync</h1>
        <div class="alert alert-bad" role="alert">
          The admin API did not answer: {failure.message} <code class="code">{failure.code}</code>
        </div>
      </main>
    );
  }
  if (session === undefined) return <p class="muted center">Loading…</p>;
  if (session === null) {
    return (
      <LoginPage
        onSignedIn={(s) => {
          signedIn(s);
          const back = loc.params.get('next');
          navigate(
            back?.startsWith('/') && !back.startsWith('//')
              ? back
              : loc.path === '/login'
                ? '/'
                : loc.path + window.location.search,
            true,
          );
        }}
      />
    );
  }

  const logout = async () => {
    try {
      await api('DELETE', '/session');
    } catch {
      // gone already
    }
    setCsrf(undefined);
    setSession(null);
    navigate('/login', true);
  };

  const segment = loc.path.split('/')[1] ?? '';
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/" class="brand">
          idsync
        </Link>
        <nav aria-label="Pages">
          <ul>
            {NAV.map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={n.segment === segment ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="account">
          <span>
            {session.username} <span class="role">({session.role})</span>
          </span>
          <button type="button" class="link" onClick={logout}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page path={loc.path} session={session} />
      </main>
    </>
  );
}

/** The pages by URL pattern (segments; `:name` captures one), first match wins. */
const PAGES: [string, (p: Record<string, string>, role: Role) => JSX.Element][] = [
  ['/', (_p, role) => <OverviewPage role={role} />],
  ['/login', (_p, role) => <OverviewPage role={role} />],
  ['/connectors', (_p, role) => <OverviewPage role={role} />],
  ['/connectors/:name', (p, role) => <ConnectorPage name={p.name!} role={role} />],
  ['/runs', () => <RunsPage />],
  ['/runs/:id', (p) => <RunsPage open={p.id} />],
  ['/log', () => <LogPage />],
  ['/log/:id', (p) => <LogPage open={p.id} />],
  ['/objects', () => <ObjectsPage />],
  ['/objects/:id', (p, role) => <ObjectPage id={p.id!} role={role} />],
  ['/holds', (_p, role) => <HoldsPage role={role} />],
  ['/agents', (_p, role) => <AgentsPage role={role} />],
  ['/tokens', (_p, role) => <TokensPage role={role} />],
  ['/audit', () => <AuditPage />],
  ['/config', (_p, role) => <ConfigPage role={role} />],
];

function Page(props: { path: string; session: Session }) {
  const { path, session } = props;
  for (const [pattern, page] of PAGES) {
    const m = match(pattern, path);
    if (m) return page(m, session.role);
  }
  return (
    <>
      <h1>Not found</h1>
      <p>
        The portal has no page at <code>{path}</code>. Its pages:{' '}
        {CLIENT_ROUTES.map((r) => `/${r}`).join(', ')}. <Link href="/">Overview</Link>
      </p>
    </>
  );
}

render(<App />, document.getElementById('app')!);
