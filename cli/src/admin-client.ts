/**
 * The admin API over fetch: bearer token, JSON in and out, and every way a call can fail
 * turned into a failure with its exit code and a message a person can act on.
 */
import type { Connection } from './config.js';
import { ApiFailure, CliFailure, NotAdminApiFailure, UnreachableFailure, type Problem } from './failures.js';
import { describeProblem } from './problem-messages.js';
import type { VersionDetail } from './api-types.js';

const USER_AGENT = 'ficus-cli/0.1.0';
/** every answer of a Ficus admin API carries it (@ficus/contracts: ADMIN_API_HEADER) */
const ADMIN_API_HEADER = 'x-ficus-admin-api';

export type QueryValue = string | number | undefined | string[];

/** `path?a=1&b=x&b=y`, skipping undefined values; arrays repeat the name. */
export function withQuery(path: string, query: Record<string, QueryValue>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** why a request got no answer, in a few words: the system error's code, or a timeout */
export function networkCause(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return 'no answer in time';
  return err.cause?.code ?? err.cause?.message ?? err.message;
}

/**
 * How long a call waits: longer than the admin API waits for a component it passes a call
 * through to (30 s, gateway/src/admin/component-forwarder.ts), so that a hung HL7 adapter or
 * CDC reader is reported by name (its 504 component-timeout) rather than as an admin API that
 * does not answer.
 */
export const CALL_TIMEOUT_MS = 45_000;

export class AdminClient {
  constructor(
    readonly conn: Connection,
    private readonly timeoutMs = CALL_TIMEOUT_MS,
  ) {}

  get<T>(path: string, query: Record<string, QueryValue> = {}): Promise<T> {
    return this.call<T>('GET', withQuery(path, query));
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PUT', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  /** The number of the current version: the base a change starts from unless --base says otherwise. */
  async currentVersion(): Promise<number> {
    const { current } = await this.get<{ current: number }>('/api/versions', { limit: 1 });
    return current;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { url, token, tokenSource, configFile } = this.conn;
    if (!token) {
      throw new CliFailure(`no admin token: set FICUS_TOKEN, pass --token, or put "token" in ${configFile}`, ['an admin can make one with `ficus tokens create <name> --role viewer|operator|admin`']);
    }
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json', 'user-agent': USER_AGENT };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } catch (e) {
      throw new UnreachableFailure(url, networkCause(e));
    }
    // whatever answered is not ours: its answer, error or not, is no answer to the command
    if (!res.headers.has(ADMIN_API_HEADER)) throw new NotAdminApiFailure(url, `${method} ${path}`, res.status, res.headers.get('x-ficus-route'));
    const isJson = /json/i.test(res.headers.get('content-type') ?? '');
    let data: unknown;
    if (isJson && text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    if (res.ok) {
      if (data === undefined) throw new CliFailure(`${method} ${url}${path} answered ${res.status} without JSON: is ${url} the Ficus admin API (port 8081)?`);
      return data as T;
    }
    const problem: Problem =
      typeof data === 'object' && data !== null && !Array.isArray(data)
        ? (data as Problem)
        : { type: 'about:blank', title: res.statusText || `HTTP ${res.status}`, status: res.status, detail: `${method} ${path} answered ${res.status} without a problem body: is ${url} the Ficus admin API?` };
    const { message, details } = describeProblem(res.status, problem, tokenSource);
    if (res.status === 409 && typeof problem.currentVersion === 'number') details.unshift(...(await this.whoWon(problem)));
    throw new ApiFailure(res.status, problem, message, details);
  }

  /** The version that got in first, in one line: who, when, why (from the 409 itself, else asked). */
  private async whoWon(problem: Problem): Promise<string[]> {
    const version = problem.currentVersion as number;
    type Made = { version: number; author: string; createdAt: string; reason: string; summary: string };
    const current = problem.current as Made | undefined;
    const since = problem.changesSince as Made[] | undefined;
    // more than one change in between: each one, since any of them would be undone
    if (current && since && since.length > 1) {
      return [
        `changes since version ${String(problem.baseVersion)}:`,
        ...since.map((v) => `  version ${v.version}${v.version === version ? ' (current)' : ''}, by ${v.author} at ${v.createdAt}: "${v.reason}" (${v.summary})`),
      ];
    }
    if (current) return [`current version: ${current.version}, by ${current.author} at ${current.createdAt}: "${current.reason}" (${current.summary})`];
    try {
      const v = await this.get<VersionDetail>(`/api/versions/${version}`);
      return [`current version: ${v.version}, by ${v.author} at ${v.createdAt}: "${v.reason}" (${v.change.summary})`];
    } catch {
      return [`current version: ${version}`];
    }
  }
}
