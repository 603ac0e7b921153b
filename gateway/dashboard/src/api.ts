/**
 * The admin API as the dashboard calls it: the same routes and the same bearer token as the
 * CLI. The token lives in sessionStorage (gone when the tab closes), never in a URL.
 */
import { componentTrouble, troubleText, type Trouble } from './components';

const TOKEN_KEY = 'ficus-admin-token';

export type Role = 'viewer' | 'operator' | 'admin';

/** may flip, roll back, replay and discard (the API checks it again) */
export const canOperate = (role: Role) => role === 'operator' || role === 'admin';

export interface Problem {
  title?: string;
  detail?: string;
  type?: string;
  [k: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
}

export const tokenStore = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export async function call<T>(method: string, path: string, body?: unknown, token = tokenStore.get()): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = { detail: text.slice(0, 200) };
  }
  if (!res.ok) throw new ApiError(res.status, (parsed as Problem | undefined) ?? {});
  return parsed as T;
}

export const get = <T>(path: string) => call<T>('GET', path);
export const post = <T>(path: string, body: unknown) => call<T>('POST', path, body);

/** Why a component behind the admin API gave no answer (not running, timed out, broke off), or null. */
export const troubleOf = (e: unknown): Trouble | null => (e instanceof ApiError ? componentTrouble(e.status, e.problem) : null);

/** A component that is not running behind the admin API (no forwarder, or nothing listens): a timeout is not that. */
export const notRunning = (e: unknown) => troubleOf(e)?.kind === 'down';

/** What a panel says when it has nothing to show of a component: `title` is "The HL7 adapter". */
export function unreadText(title: string, e: unknown): string {
  const t = troubleOf(e);
  if (t) return troubleText(title, t);
  return e instanceof ApiError ? `${title}: the read failed (${refusalText(e)}). The page keeps trying.` : `${title}: no answer from the admin API (${(e as Error).message}). The page keeps trying.`;
}

/**
 * A write a dialog confirmed: runs it, hands its answer to `then`, and answers null; a refusal
 * answers the text the dialog shows (the API's title and detail).
 */
export async function confirmedWrite<T>(write: () => Promise<T>, then: (answer: T) => void): Promise<string | null> {
  try {
    then(await write());
    return null;
  } catch (e) {
    return refusalText(e);
  }
}

/** A refusal in words: the API's title and detail, or why the request did not get through. */
export const refusalText = (e: unknown) => (e instanceof ApiError ? `${e.problem.title ?? 'Refused'}: ${e.problem.detail ?? e.message}` : (e as Error).message);
