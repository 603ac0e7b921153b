/**
 * Where the admin API is and which token to present. Flags win, then the environment, then
 * the config file, then the default URL. The token is only ever passed to the API: messages
 * name where it came from, never its value.
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { CliFailure } from './failures.js';

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:8081';

export interface Connection {
  /** no trailing slash; paths are appended to it */
  url: string;
  token?: string;
  /** where the token came from, for messages ("FICUS_TOKEN", "--token", the config file) */
  tokenSource?: string;
  /** the config file, read or not (it may not exist) */
  configFile: string;
  /** why the config file's permissions are a risk, if they are */
  configWarning?: string;
}

export interface ConnectionFlags {
  url?: string;
  token?: string;
}

interface ConfigFile {
  adminUrl?: string;
  token?: string;
}

/** `$FICUS_CONFIG`, else `$XDG_CONFIG_HOME/ficus/config.json`, else `~/.config/ficus/config.json`. */
export function configFilePath(env: NodeJS.ProcessEnv): { file: string; explicit: boolean } {
  if (env.FICUS_CONFIG) return { file: path.resolve(env.FICUS_CONFIG), explicit: true };
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || homedir(), '.config');
  return { file: path.join(base, 'ficus', 'config.json'), explicit: false };
}

function readConfigFile(file: string, explicit: boolean): ConfigFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    // only a file the user named on purpose must exist
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return undefined;
    throw new CliFailure(`cannot read the config file ${file}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CliFailure(`the config file ${file} is not JSON: ${(e as Error).message}`, ['expected { "adminUrl"?: string, "token"?: string }']);
  }
  const obj = data as Record<string, unknown> | null;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new CliFailure(`the config file ${file} must hold a JSON object { "adminUrl"?, "token"? }`);
  for (const key of ['adminUrl', 'token'] as const) {
    if (obj[key] !== undefined && typeof obj[key] !== 'string') throw new CliFailure(`the config file ${file}: "${key}" must be a string`);
  }
  return obj as ConfigFile;
}

/** The http(s) URL without a trailing slash, or a failure naming where the bad value came from. */
export function normaliseUrl(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliFailure(`${source} is not a URL: "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliFailure(`${source} must be an http:// or https:// URL: "${value}"`);
  return url.href.replace(/\/+$/, '');
}

function permissionWarning(file: string): string | undefined {
  try {
    const mode = statSync(file).mode;
    if (process.platform !== 'win32' && mode & 0o077) return `the config file ${file} holds a token and can be read by other users: chmod 600 it`;
  } catch {
    // it was just read; a race here is not worth a message
  }
  return undefined;
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const { file, explicit } = configFilePath(env);
  const config = readConfigFile(file, explicit);

  let url: string;
  if (flags.url !== undefined) url = normaliseUrl(flags.url, '--url');
  else if (env.FICUS_ADMIN_URL) url = normaliseUrl(env.FICUS_ADMIN_URL, 'FICUS_ADMIN_URL');
  else if (config?.adminUrl) url = normaliseUrl(config.adminUrl, `"adminUrl" in ${file}`);
  else url = DEFAULT_ADMIN_URL;

  const conn: Connection = { url, configFile: file };
  const candidates: [string | undefined, string][] = [
    [flags.token, '--token'],
    [env.FICUS_TOKEN, 'FICUS_TOKEN'],
    [config?.token, `the config file ${file}`],
  ];
  for (const [value, source] of candidates) {
    const token = value?.trim();
    if (!token) continue;
    if (/\s/.test(token)) throw new CliFailure(`the token from ${source} contains white space`);
    conn.token = token;
    conn.tokenSource = source;
    if (source.startsWith('the config file')) {
      const warning = permissionWarning(file);
      if (warning) conn.configWarning = warning;
    }
    break;
  }
  return conn;
}
