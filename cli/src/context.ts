/**
 * What every command gets from the global options: JSON or tables, and a client for the admin
 * API whose connection is worked out only when the command first needs it (so `validate`
 * works without a token, and a broken config file does not break `--help`).
 */
import type { Command } from 'commander';
import { AdminClient } from './admin-client.js';
import { resolveConnection, type Connection } from './config.js';
import { note } from './output.js';

export interface GlobalOptions {
  json?: boolean;
  url?: string;
  token?: string;
}

export interface Context {
  json: boolean;
  client(): AdminClient;
  connection(): Connection;
}

export function contextOf(cmd: Command): Context {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  let conn: Connection | undefined;
  let client: AdminClient | undefined;
  const connection = () => {
    if (!conn) {
      conn = resolveConnection({ url: opts.url, token: opts.token });
      if (conn.configWarning) note(`warning: ${conn.configWarning}`);
    }
    return conn;
  };
  return {
    json: opts.json === true,
    connection,
    client: () => (client ??= new AdminClient(connection())),
  };
}
