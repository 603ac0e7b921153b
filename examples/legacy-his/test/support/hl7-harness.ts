/**
 * A legacy HIS on a fresh database (the shared harness) with its HL7 inbound listening on a
 * free port, and every log call of the inbound kept for inspection.
 */
import { createLogger } from '@ficus/contracts';
import { startHl7Inbound, type Hl7InboundOptions, type RunningHl7Inbound } from '../../src/index.js';
import { sqlValue, startHarness, type Harness } from '../../../../test-support/legacy-his.js';
import { MllpClient } from './mllp-client.js';

export interface Hl7Harness extends Harness {
  inbound: RunningHl7Inbound;
  /** every log call of the inbound, as JSON: its fields and message */
  logs: string[];
  /** a new MLLP connection to the inbound (closed by close()) */
  connect(): Promise<MllpClient>;
  /** another inbound on the same pool, with other options (closed by close()) */
  startInbound(options: Omit<Hl7InboundOptions, 'pool'>): Promise<RunningHl7Inbound>;
  /** 'YYYY-MM-DDTHH:MM:SS' of a timestamp text as the database's local time (an offset is converted) */
  localTime(timestamp: string): Promise<string>;
}

export function capturingLogger(logs: string[]) {
  return createLogger('legacy-his', {
    level: 'debug',
    hooks: {
      // kept, not written: the test output stays readable
      logMethod(args) {
        logs.push(JSON.stringify(args));
      },
    },
  });
}

export async function startHl7Harness(prefix: string, patients = 50): Promise<Hl7Harness> {
  const his = await startHarness(prefix, { patients, seed: 11 });
  const logs: string[] = [];
  const log = capturingLogger(logs);
  const inbound = await startHl7Inbound({ pool: his.pool, port: 0, host: '127.0.0.1', log });
  const clients: MllpClient[] = [];
  const others: RunningHl7Inbound[] = [];
  return {
    ...his,
    inbound,
    logs,
    async connect() {
      const c = await MllpClient.connect(inbound.port);
      clients.push(c);
      return c;
    },
    async startInbound(options) {
      const other = await startHl7Inbound({ pool: his.pool, host: '127.0.0.1', log, ...options });
      others.push(other);
      return other;
    },
    localTime: (timestamp) =>
      sqlValue<string>(
        his.pool,
        `SELECT to_char(CASE WHEN $1::text ~ '[+-][0-9]{2}:[0-9]{2}$' THEN $1::text::timestamptz::timestamp ELSE $1::text::timestamp END, 'YYYY-MM-DD"T"HH24:MI:SS') AS v`,
        [timestamp],
      ),
    async close() {
      for (const c of clients) c.socket.destroy();
      await Promise.all([inbound.close(), ...others.map((o) => o.close())]);
      await his.close();
    },
  };
}
