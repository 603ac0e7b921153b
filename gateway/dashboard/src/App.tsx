/** Login first (a token, kept for this tab only), then the dashboard for the caller's role. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, tokenStore } from './api';
import { Dashboard } from './Dashboard';
import { Login } from './Login';
import type { WhoAmI } from './types';

export function App() {
  const [me, setMe] = useState<WhoAmI | null>(null);
  const [checking, setChecking] = useState(tokenStore.get() !== null);

  useEffect(() => {
    const token = tokenStore.get();
    if (!token) return;
    call<WhoAmI>('GET', '/api/whoami')
      .then(setMe, () => tokenStore.clear())
      .finally(() => setChecking(false));
  }, []);

  const login = async (token: string): Promise<string | null> => {
    try {
      const who = await call<WhoAmI>('GET', '/api/whoami', undefined, token);
      tokenStore.set(token);
      setMe(who);
      return null;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return 'The admin API did not accept this token: it is unknown, revoked, or not a Ficus token or identity-provider JWT.';
      return `The admin API cannot be reached: ${(e as Error).message}`;
    }
  };
  const logout = () => {
    tokenStore.clear();
    setMe(null);
  };

  if (checking) return <p class="loading">Checking your session…</p>;
  return me ? <Dashboard me={me} onLogout={logout} onUnauthorized={logout} /> : <Login onLogin={login} />;
}
