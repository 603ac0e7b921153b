/** The login page: a Ficus token or an identity provider's JWT, pasted. */
import { useEffect, useRef, useState } from 'preact/hooks';

export function Login({ onLogin, notice }: { onLogin: (token: string) => Promise<string | null>; notice?: string | null }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(await onLogin(token.trim()));
    setBusy(false);
  };

  return (
    <main class="login">
      <h1>Ficus migration dashboard</h1>
      {notice && (
        <p role="status" class="signed-out" data-testid="signed-out">
          {notice}
        </p>
      )}
      <form onSubmit={submit} aria-describedby="login-help">
        <label for="token">Admin token</label>
        <input id="token" ref={input} type="password" autocomplete="off" required value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} aria-invalid={error ? 'true' : undefined} aria-errormessage={error ? 'login-error' : undefined} />
        <p id="login-help" class="help">
          A token from <code>ficus tokens create</code>, or a JWT from your identity provider (OIDC) pasted here. It is kept in this tab only.
        </p>
        {error && (
          <p id="login-error" role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
