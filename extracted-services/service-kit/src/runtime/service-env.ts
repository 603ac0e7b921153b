/**
 * The environment both services read, beside their own prefixed variables: the PostgreSQL
 * server, Redis, the queues' partition counts (they must match the producers'), the system of
 * record, shutdown and logging. Defaults work on a development machine.
 */
import { Type, type Static, type TObject } from '@sinclair/typebox';
import { fileURLToPath } from 'node:url';
import { Env, trustedProxiesEnv, withDatabase } from '@ficus/contracts';

const DEFAULT_STATE_DIR = fileURLToPath(new URL('../../../../.ficus/services', import.meta.url));

/** who holds the committed truth of a service's entities (see the README, "The conflict rule") */
export type SystemOfRecord = 'legacy' | 'service';

export const systemOfRecordEnv = (dflt: SystemOfRecord | 'rules', what: string, rule: string) =>
  Type.Unsafe<SystemOfRecord | 'rules'>({
    type: 'string',
    enum: ['legacy', 'service', 'rules'],
    default: dflt,
    description: `system of record for ${what}: legacy (CDC of the legacy database wins; HL7 applied here is a provisional early copy), service (writes and HL7 land here first, go to the outbox and back to the legacy; CDC from other legacy writers older than a local change is a conflict), or rules (service while the rule named by the record-rule setting, default ${rule}, is in mode new or retired; follows flips and rollbacks within a second)`,
  });

export const commonServiceEnv = {
  DATABASE_URL: Env.string('postgres://postgres@127.0.0.1:5432/postgres', "PostgreSQL server; the service's own database is on it unless named in full"),
  DATABASE_POOL_MAX: Env.integer(10, 'most database connections at once', 2),
  REDIS_URL: Env.string('redis://127.0.0.1:6379', 'Redis of the HL7 and CDC queues (BullMQ)'),
  HL7_PARTITIONS: Env.integer(8, "partitions of the service's HL7 queues (hl7.<service>.p<n>): the HL7 adapter's HL7_PARTITIONS", 1),
  HL7_MRN_AUTHORITIES: Env.string('', "this hospital's MRN assigning authorities (PID-3/MRG-1 CX-4 namespace or universal id), comma-separated: a list with other facilities' MRs (an HIE feed) takes ours, and one with only theirs is refused; empty: the repetition typed MR, whatever its authority"),
  CDC_PARTITIONS: Env.integer(8, 'partitions of the CDC queues (cdc.<topic>.p<n>): the CDC reader\'s', 1),
  SERVICE_CONSUMERS: Env.boolean(true, 'consume the HL7 and CDC queues (false: serve HTTP only, e.g. a read replica)'),
  SERVICE_OUTBOX_RELAY: Env.boolean(true, 'publish the outbox (changes made here as system of record) to the write-back queues writeback.<service>.p<n>'),
  WRITEBACK_PARTITIONS: Env.integer(8, "partitions of the write-back queues: the CDC deployable's CDC_PARTITIONS", 1),
  FICUS_STORE_URL: Env.optionalString("the rule store, read when the system of record follows the rules, and for the admin API's tokens and audit log at /api/services/<service>/* (default: database ficus_gateway on DATABASE_URL's server)"),
  FICUS_OIDC_ISSUER: Env.optionalString("OIDC: accept JWTs from this issuer at /api/services/<service>/* (the admin API's setting)"),
  FICUS_OIDC_AUDIENCE: Env.optionalString('OIDC: the audience the JWTs must name'),
  FICUS_OIDC_JWKS_URL: Env.optionalString("OIDC: the issuer's key set (JWKS) URL"),
  FICUS_OIDC_ROLE_CLAIM: Env.string('ficus_role', 'OIDC: the claim holding the role'),
  SERVICE_API_TRUSTED_PROXIES: trustedProxiesEnv('/api/services/<service>'),
  FICUS_STATE_DIR: Env.string(DEFAULT_STATE_DIR, 'where the last good copy of the rules is kept (system of record from the rules)'),
  FICUS_EMERGENCY_FILE: Env.optionalString(
    "the emergency override file (default: $FICUS_STATE_DIR/emergency-legacy.yaml), the gateway's and the HL7 adapter's: while it names the record rule (`rules: [patients-write]`) or says `rules: all`, the legacy is the system of record whatever the rules say, until it is removed (system of record from the rules)",
  ),
  FICUS_RULES_CHECK_MS: Env.integer(5_000, 'how often the rule store is asked for a new version besides the change notifications (Redis)', 100),
  SERVICE_HL7_WAIT_FOR_KEYS_MS: Env.integer(
    60_000,
    'an HL7 message naming a patient or stay this service does not know yet (its registration still on its way, by another queue or the CDC) is tried again for this long, its partition waiting, before it becomes a dead letter (0: at once)',
    0,
  ),
  SERVICE_DEDUP_RETENTION_DAYS: Env.integer(30, 'HL7 messages applied and positions of deleted rows, kept to recognise a redelivery or replay, are deleted after this many days (0: kept for ever)', 0),
  SERVICE_MAX_FEED_LAG_MS: Env.integer(
    5_000,
    "while the legacy system holds the record: once the CDC feed is further behind the legacy database than this (by the CDC reader's heartbeats), reads are answered 503 with x-ficus-stale: feed-lag, which the gateway answers from the legacy instead (0: never)",
    0,
  ),
  SERVICE_SNAPSHOT_WITHDRAW_MAX_PERCENT: Env.integer(
    10,
    "a complete re-snapshot of the legacy (CDC_RESNAPSHOT) withdraws the rows it did not bring; when that is more than this percentage of the topic's rows, it withdraws nothing, logs an error and shows it (/readyz snapshotWithdrawals, ficus_service_snapshot_withdrawals_held) until allowed (0: any withdrawal is held)",
    0,
  ),
  SERVICE_SNAPSHOT_WITHDRAW_ALLOW: Env.string('', 'held re-snapshots to withdraw all the same, once, at start: <topic>@<position> as the error and /readyz name them, comma-separated'),
  SERVICE_SHUTDOWN_TIMEOUT_MS: Env.integer(10_000, 'on SIGTERM, time given to in-flight requests and queue jobs'),
  LOG_LEVEL: Env.level(),
};

export type CommonServiceConfig = Static<TObject<typeof commonServiceEnv>>;

/** the service's database: its own URL when given, else database `name` on DATABASE_URL's server */
export function serviceDatabaseUrl(own: string | undefined, serverUrl: string, name: string): string {
  return own ?? withDatabase(serverUrl, name);
}
