/** The sign-in form: username and password; a wrong pair, a locked account and an offline server each say so. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, type Session } from '../api';

export function LoginPage(props: { onSignedIn: (s: Session) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ text: string; code?: string } | undefined>(undefined);
  const user = useRef<HTMLInputElement>(null);
  useEffect(() => {
    document.title = 'Sign in · idsync';
    user.current?.focus();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setMessage(undefined);
    try {
      const s = await api<Session>('POST', '/session', { username, password });
      setPassword('');
      props.onSignedIn(s);
    } catch (err) {
      const a = err instanceof ApiError ? err : new ApiError(0, 'PORTAL_ERROR', String(err));
      setPassword('');
      if (a.status === 429 || /LOCK/i.test(a.code)) {
        const wait = a.retryAfter;
        setMessage({
          text: `Too many failed sign-ins: this account is locked${wait ? ` for ${wait >= 120 ? `${Math.ceil(wait / 60)} minutes` : `${wait} seconds`}` : ' for a while'}. Try again later, or ask an administrator.`,
          code: a.code,
        });
      } else if (a.status === 401 || a.status === 400) {
        setMessage({ text: 'Wrong user name or password.', code: a.code });
      } else {
        setMessage({ text: a.message, code: a.code });
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="login">
      <form class="card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Sign in to idsync</h1>
        {message && (
          <div class="alert alert-bad" role="alert">
            {message.text} {message.code && <code class="code">{message.code}</code>}
          </div>
        )}
        <label for="username">User name</label>
        <input
          id="username"
          name="username"
          ref={user}
          autocomplete="username"
          required
          value={username}
          onInput={(e) => setUsername((e.target as HTMLInputElement).value)}
        />
        <label for="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="muted small">
          No account yet? On the idsync host: <code>idsync admin create NAME --role admin</code> prints a
          password once.
        </p>
      </form>
    </main>
  );
}
