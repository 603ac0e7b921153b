import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type, type Static } from '@sinclair/typebox';
import { configSchema, EMERGENCY_FILE_NAME, Env, loadConfig, trustedProxiesEnv, withDatabase } from '@ficus/contracts';
import { keyMoveTtlMs } from './publish/key-moves.js';

const DEFAULT_MAPPING = fileURLToPath(new URL('../../../routing-rules/cdc/legacy-his.yaml', import.meta.url));
const DEFAULT_RULES_DIR = fileURLToPath(new URL('../../../routing-rules', import.meta.url));
const DEFAULT_STATE_DIR = fileURLToPath(new URL('../../../.ficus/cdc', import.meta.url));

export const CdcConfigSchema = configSchema({
  CDC_API_HOST: Env.string('0.0.0.0', 'address of the HTTP endpoints (health, metrics, /api/cdc)'),
  CDC_API_PORT: Env.port(8092, 'port of the HTTP endpoints'),
  CDC_MAPPING_FILE: Env.string(DEFAULT_MAPPING, 'the mapping: legacy tables and columns → topics and fields'),
  CDC_SOURCE_NAME: Env.optionalString('the source\'s name (default: the mapping\'s cdc.source)'),
  CDC_SOURCE_KIND: Type.Unsafe<'postgres' | 'mssql'>({ type: 'string', enum: ['postgres', 'mssql'], default: 'postgres', description: 'the legacy database: PostgreSQL (logical replication) or SQL Server (CDC tables)' }),
  CDC_LEGACY_DATABASE_URL: Env.optionalString('PostgreSQL legacy database (default: database legacy_his on DATABASE_URL\'s server); also where write-back goes'),
  CDC_MSSQL_URL: Env.optionalString('SQL Server legacy database, as an mssql connection string (CDC_SOURCE_KIND=mssql)'),
  CDC_MSSQL_MIGRATE: Env.boolean(false, 'SQL Server: create the stand-in legacy schema and enable CDC on it first (migrations/legacy-mssql; for the stand-in, not a hospital\'s database)'),
  CDC_MSSQL_POLL_MS: Env.integer(500, 'SQL Server: time between two looks at the change tables', 10),
  CDC_STATE_DATABASE_URL: Env.optionalString('the CDC state database (default: database ficus_cdc on DATABASE_URL\'s server)'),
  DATABASE_URL: Env.string('postgres://postgres@127.0.0.1:5432/postgres', 'PostgreSQL server (legacy_his, ficus_cdc, and the rule store ficus_gateway for tokens)'),
  FICUS_STORE_URL: Env.optionalString('the rule store database (tokens, audit; default: ficus_gateway on DATABASE_URL\'s server)'),
  REDIS_URL: Env.string('redis://127.0.0.1:6379', 'Redis: the topics\' queues and the write-back queues (BullMQ)'),
  CDC_SLOT: Env.optionalString('replication slot (default ficus_cdc_<source>)'),
  CDC_PUBLICATION: Env.optionalString('publication (default ficus_cdc_<source>)'),
  CDC_SNAPSHOT: Env.boolean(true, 'take an initial snapshot of the mapped tables when the slot is made'),
  CDC_RESNAPSHOT: Env.boolean(false, 'drop the slot and take a new snapshot at start'),
  CDC_PARTITIONS: Env.integer(8, 'partitions per topic (and per write-back queue); the consumers must use the same count', 1),
  CDC_MAX_EVENTS_PER_JOB: Env.integer(500, 'most change events in one queue job', 1),
  CDC_LINGER_MS: Env.integer(100, 'how long the first change of a batch waits for more before they are enqueued: bigger jobs, fewer consumer transactions', 0),
  CDC_MAX_HELD_EVENTS: Env.integer(50_000, 'change events held in memory (read, not yet enqueued) before the source stops reading', 100),
  CDC_HEARTBEAT_MS: Env.integer(1_000, 'time between two heartbeats put on every partition queue of every topic, behind the changes, saying up to when the source has been read: the services\' SERVICE_MAX_FEED_LAG_MS measures by them (0: none)', 0),
  CDC_STATUS_INTERVAL_MS: Env.integer(1_000, 'PostgreSQL: time between two standby status updates', 100),
  CDC_SNAPSHOT_FETCH_ROWS: Env.integer(5_000, 'rows per fetch while taking the snapshot', 1),
  CDC_WRITEBACK_SERVICES: Env.string('patient-service,results-service', 'services whose write-back queues the legacy writer reads (comma-separated; empty: no write-back)'),
  CDC_WRITEBACK_FK_WAIT_MS: Env.integer(60_000, 'write-back: how long a row the legacy database refuses for a foreign key (its parent not there yet: a patient in another partition, a result through another service) is tried again, its partition waiting, before it is dead-lettered; 0 at once'),
  CDC_WRITEBACK_GONE_WAIT_MS: Env.integer(
    300_000,
    'write-back: how long an update whose legacy row is gone (its key changed there, or it was deleted) waits, its partition holding, for CDC to read past the moment that was seen before it is dead-lettered as not known (shown in /api/cdc/status); 0 at once',
  ),
  CDC_KEY_MOVE_RETENTION_DAYS: Env.integer(
    30,
    'how long a legacy key change CDC read (an MRN renamed) is kept in Redis for the legacy writer, which writes a write-back of the old key to the new one: this many days plus CDC_WRITEBACK_GONE_WAIT_MS; keep it at least the services\' SERVICE_DEDUP_RETENTION_DAYS, within which a dead-lettered write-back is replayed (0: kept for ever)',
    0,
  ),
  CDC_WRITEBACK_LOCK_TIMEOUT_MS: Env.integer(10_000, 'write-back: lock_timeout of the legacy writer\'s transactions; a legacy row lock held longer makes the job wait and try again, shown in /api/cdc/status (0: wait for ever)'),
  CDC_WRITEBACK_STATEMENT_TIMEOUT_MS: Env.integer(60_000, 'write-back: statement_timeout of the legacy writer\'s transactions; a statement that runs longer is cancelled and tried again (0: none)'),
  CDC_WRITEBACK_RECORD_RULES: Env.string(
    'patient-service=patients-write,results-service=lab-results',
    'write-back: each service\'s record rule (service=rule, comma-separated, as its *_RECORD_RULE; service=legacy or service=service where its *_SYSTEM_OF_RECORD is fixed): while the legacy holds the record, a field the legacy changed since the service read it keeps the legacy\'s value; a service not named gets its value written',
  ),
  CDC_WRITEBACK_ECHO: Type.Unsafe<'tag' | 'drop'>({ type: 'string', enum: ['tag', 'drop'], default: 'tag', description: 'changes of the legacy writer\'s own transactions: published with origin ficus-writeback (tag) or not at all (drop)' }),
  FICUS_RULES_DIR: Env.string(DEFAULT_RULES_DIR, 'rule files (the rule store\'s first version when it is empty)'),
  FICUS_STATE_DIR: Env.string(DEFAULT_STATE_DIR, 'local state'),
  FICUS_EMERGENCY_FILE: Env.optionalString(
    "write-back: the emergency override file (default: $FICUS_STATE_DIR/emergency-legacy.yaml), the gateway's and the HL7 adapter's: while it names a service's record rule (CDC_WRITEBACK_RECORD_RULES) or says `rules: all`, the legacy holds that record whatever the rule store says, and a field the legacy changed since the service read it keeps the legacy's value, until it is removed",
  ),
  FICUS_OIDC_ISSUER: Env.optionalString('OIDC: accept JWTs from this issuer'),
  FICUS_OIDC_AUDIENCE: Env.optionalString('OIDC: the audience the JWTs must name'),
  FICUS_OIDC_JWKS_URL: Env.optionalString("OIDC: the issuer's key set (JWKS) URL"),
  FICUS_OIDC_ROLE_CLAIM: Env.string('ficus_role', 'OIDC: the claim holding the role'),
  CDC_API_TRUSTED_PROXIES: trustedProxiesEnv('/api/cdc'),
  FICUS_SHUTDOWN_TIMEOUT_MS: Env.integer(10_000, 'on SIGTERM, wait this long for events in hand to be enqueued'),
  LOG_LEVEL: Env.level(),
});

export type CdcConfig = Static<typeof CdcConfigSchema>;

export function loadCdcConfig(env: NodeJS.ProcessEnv = process.env): CdcConfig {
  return loadConfig(CdcConfigSchema, env);
}

export const legacyUrl = (c: CdcConfig) => c.CDC_LEGACY_DATABASE_URL ?? withDatabase(c.DATABASE_URL, 'legacy_his');
export const stateUrl = (c: CdcConfig) => c.CDC_STATE_DATABASE_URL ?? withDatabase(c.DATABASE_URL, 'ficus_cdc');
export const emergencyFile = (c: CdcConfig) => c.FICUS_EMERGENCY_FILE ?? path.join(c.FICUS_STATE_DIR, EMERGENCY_FILE_NAME);
export const ruleStoreUrl = (c: CdcConfig) => c.FICUS_STORE_URL ?? withDatabase(c.DATABASE_URL, 'ficus_gateway');
const slotName = (source: string) => `ficus_cdc_${source.replace(/[^a-z0-9_]/g, '_')}`;
export const slotOf = (c: CdcConfig, source: string) => c.CDC_SLOT ?? slotName(source);
export const publicationOf = (c: CdcConfig, source: string) => c.CDC_PUBLICATION ?? slotName(source);
/** How long a key change read is kept for the legacy writer (ms; null: for ever): publish/key-moves.ts. */
export const keyMoveTtl = (c: CdcConfig) => keyMoveTtlMs(c.CDC_KEY_MOVE_RETENTION_DAYS, c.CDC_WRITEBACK_GONE_WAIT_MS);
export const writebackServices = (c: CdcConfig) =>
  c.CDC_WRITEBACK_SERVICES.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
