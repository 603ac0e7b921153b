/** Login first (a token, kept for this tab only), then the dashboard for the caller's role. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, tokenStore } from './api';
import { Dashboard } from './Dashboard';
import { Login } from './Login';
import type { WhoAmI } from './types';

/** why the admin API refused a token, as it says it (unknown, revoked, expired) */
const refusedBecause = (e: ApiError) => e.problem.detail ?? 'it is unknown, revoked, or not a Ficus token or identity-provider JWT';

export function App() {
  const [me, setMe] = useState<WhoAmI | null>(null);
  const [checking, setChecking] = useState(tokenStore.get() !== null);
  // why the page is back at the login: a session that ended by itself must say so
  const [notice, setNotice] = useState<string | null>(null);

  const signedOut = (e: unknown) => {
    tokenStore.clear();
    setMe(null);
    setNotice(e instanceof ApiError && e.status === 401 ? `You were signed out: the admin API no longer accepts this token (${refusedBecause(e)}).` : null);
  };

  useEffect(() => {
    const token = tokenStore.get();
    if (!token) return;
    call<WhoAmI>('GET', '/api/whoami')
      .then(setMe, signedOut)
      .finally(() => setChecking(false));
  }, []);

  const login = async (token: string): Promise<string | null> => {
    try {
      const who = await call<WhoAmI>('GET', '/api/whoami', undefined, token);
      tokenStore.set(token);
      setNotice(null);
      setMe(who);
      return null;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return `The admin API did not accept this token: ${refusedBecause(e)}.`;
      return `The admin API cannot be reached: ${(e as Error).message}`;
    }
  };
  const logout = () => {
    tokenStore.clear();
    setNotice(null);
    setMe(null);
  };

  if (checking) return <p class="loading">Checking your session…</p>;
  return me ? <Dashboard me={me} onLogout={logout} onUnauthorized={signedOut} /> : <Login onLogin={login} notice={notice} />;
}
