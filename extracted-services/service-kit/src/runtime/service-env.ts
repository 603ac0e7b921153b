/**
 * The environment both services read, beside their own prefixed variables: the PostgreSQL
 * server, Redis, the queues' partition counts (they must match the producers'), the system of
 * record, shutdown and logging. Defaults work on a development machine.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Env, withDatabase } from '@ficus/contracts';

/** who holds the committed truth of a service's entities (see the README, "The conflict rule") */
export type SystemOfRecord = 'legacy' | 'service';

export const systemOfRecordEnv = (dflt: SystemOfRecord, what: string) =>
  Type.Unsafe<SystemOfRecord>({
    type: 'string',
    enum: ['legacy', 'service'],
    default: dflt,
    description: `system of record for ${what}: legacy (CDC of the legacy database wins; HL7 applied here is a provisional early copy) or service (writes and HL7 land here first, CDC from other legacy writers older than a local change is a conflict)`,
  });

export const commonServiceEnv = {
  DATABASE_URL: Env.string('postgres://postgres@127.0.0.1:5432/postgres', "PostgreSQL server; the service's own database is on it unless named in full"),
  DATABASE_POOL_MAX: Env.integer(10, 'most database connections at once', 2),
  REDIS_URL: Env.string('redis://127.0.0.1:6379', 'Redis of the HL7 and CDC queues (BullMQ)'),
  HL7_PARTITIONS: Env.integer(8, "partitions of the service's HL7 queues (hl7.<service>.p<n>): the HL7 adapter's HL7_PARTITIONS", 1),
  CDC_PARTITIONS: Env.integer(8, 'partitions of the CDC queues (cdc.<topic>.p<n>): the CDC reader\'s', 1),
  SERVICE_CONSUMERS: Env.boolean(true, 'consume the HL7 and CDC queues (false: serve HTTP only, e.g. a read replica)'),
  SERVICE_SHUTDOWN_TIMEOUT_MS: Env.integer(10_000, 'on SIGTERM, time given to in-flight requests and queue jobs'),
  LOG_LEVEL: Env.level(),
};

export type CommonServiceConfig = { [K in keyof typeof commonServiceEnv]: Static<(typeof commonServiceEnv)[K]> };

/** the service's database: its own URL when given, else database `name` on DATABASE_URL's server */
export function serviceDatabaseUrl(own: string | undefined, serverUrl: string, name: string): string {
  return own ?? withDatabase(serverUrl, name);
}
