/**
 * Configuration of the legacy HIS from environment variables. The defaults run it on a
 * development machine next to a local PostgreSQL.
 */
import type { Static } from '@sinclair/typebox';
import { configSchema, Env, loadConfig } from '@ficus/contracts';
import { DEFAULT_MAX_FRAME_BYTES } from '@ficus/hl7-protocol';
import { DEFAULT_MIGRATIONS_DIR } from './db/migrate-legacy.js';
import { DEFAULT_HL7_IDLE_TIMEOUT_MS, DEFAULT_HL7_PORT } from './hl7/hl7-inbound.js';
import { DEFAULT_SEED, DEFAULT_SEED_PATIENTS } from './seed/seed-database.js';

export const LegacyHisConfigSchema = configSchema({
  LEGACY_HIS_HOST: Env.string('0.0.0.0', 'address the legacy HIS listens on'),
  LEGACY_HIS_PORT: Env.port(8000, 'HTTP port of the legacy HIS'),
  LEGACY_HIS_HL7_PORT: Env.port(DEFAULT_HL7_PORT, 'MLLP port of the HL7 inbound (0: no HL7 inbound)'),
  LEGACY_HIS_HL7_IDLE_TIMEOUT_MS: Env.integer(DEFAULT_HL7_IDLE_TIMEOUT_MS, 'close an HL7 connection idle this long (0: never)'),
  LEGACY_HIS_HL7_MAX_FRAME_BYTES: Env.integer(DEFAULT_MAX_FRAME_BYTES, 'largest HL7 message accepted; a larger one is answered AR and its connection closed', 1),
  HL7_MRN_AUTHORITIES: Env.string('', "this hospital's MRN assigning authorities (PID-3/MRG-1 CX-4 namespace or universal id), comma-separated: a list with other facilities' MRs (an HIE feed) takes ours, and one with only theirs is refused; empty: the repetition typed MR, whatever its authority"),
  LEGACY_DATABASE_URL: Env.string('postgres://postgres@127.0.0.1:5432/legacy_his', 'PostgreSQL database of the legacy HIS (created if missing)'),
  LEGACY_DATABASE_POOL_MAX: Env.integer(10, 'most database connections at once', 1),
  LEGACY_HIS_MIGRATE: Env.boolean(true, 'apply the schema migrations at start'),
  LEGACY_HIS_MIGRATIONS_DIR: Env.string(DEFAULT_MIGRATIONS_DIR, 'folder of the SQL migration files'),
  LEGACY_HIS_SEED_PATIENTS: Env.integer(DEFAULT_SEED_PATIENTS, 'synthetic patients to seed into an empty database (0: no seed)'),
  LEGACY_HIS_SEED: Env.integer(DEFAULT_SEED, 'seed of the synthetic data generator (same seed, same data)'),
  LEGACY_HIS_ACCESS_LOG: Env.boolean(true, 'one log line per request (route pattern, status, time; never the path or query)'),
  LEGACY_HIS_SHUTDOWN_TIMEOUT_MS: Env.integer(10_000, 'on SIGTERM, wait this long for in-flight requests before cutting them'),
  LOG_LEVEL: Env.level(),
});

export type LegacyHisConfig = Static<typeof LegacyHisConfigSchema>;

export function loadLegacyHisConfig(env: NodeJS.ProcessEnv = process.env): LegacyHisConfig {
  return loadConfig(LegacyHisConfigSchema, env);
}
