import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TlsOptions } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Type, type Static } from '@sinclair/typebox';
import { configSchema, EMERGENCY_FILE_NAME, Env, loadConfig, RULE_FILES_SETTLE_MS, withDatabase } from '@ficus/contracts';
import { DEFAULT_LEGACY_RETRY_ON, RETRY_ON_PATTERN } from './delivery/legacy-answers.js';

const DEFAULT_RULES_DIR = fileURLToPath(new URL('../../../routing-rules', import.meta.url));
const DEFAULT_STATE_DIR = fileURLToPath(new URL('../../../.ficus/hl7-adapter', import.meta.url));

/**
 * How a batch frame is answered: `frames`, one frame per answer, in order; `batch`, one frame
 * holding the answers inside an envelope like the sender's (for senders that read one answer
 * frame per batch frame).
 */
export const BATCH_ACK_MODES = ['frames', 'batch'] as const;
export type BatchAckMode = (typeof BATCH_ACK_MODES)[number];

/** HL7_PROCESSING_IDS as the schema checks it: one or more of P, D, T (table 0103), comma-separated */
const PROCESSING_IDS_PATTERN = '^\\s*[PDT](?:\\s*,\\s*[PDT])*\\s*$';

export const AdapterConfigSchema = configSchema({
  HL7_HOST: Env.string('0.0.0.0', 'address the MLLP listener listens on'),
  HL7_PORT: Env.port(2575, 'MLLP listener port'),
  HL7_TLS_CERT_FILE: Env.optionalString('TLS: certificate (PEM); with HL7_TLS_KEY_FILE the listener speaks MLLP over TLS'),
  HL7_TLS_KEY_FILE: Env.optionalString('TLS: private key (PEM)'),
  HL7_TLS_CA_FILE: Env.optionalString('TLS: CA bundle for client certificates'),
  HL7_TLS_REQUIRE_CLIENT_CERT: Env.boolean(false, 'TLS: senders must present a certificate signed by HL7_TLS_CA_FILE'),
  HL7_MAX_FRAME_BYTES: Env.integer(8 * 1024 * 1024, 'largest MLLP frame accepted; a larger one is refused (AR) and the connection closed', 1024),
  HL7_IDLE_TIMEOUT_MS: Env.integer(300_000, 'an MLLP connection silent this long is closed', 1_000),
  HL7_MAX_QUEUED_FRAMES: Env.integer(64, 'frames waiting on one connection before it stops being read (back-pressure)', 2),
  HL7_BATCH_ACK: Type.Unsafe<BatchAckMode>({
    type: 'string',
    enum: [...BATCH_ACK_MODES],
    default: 'frames',
    description: 'a batch frame (FHS/BHS) is answered: frames, one frame per ACK in order; batch, one frame with the ACKs inside an envelope like the sender\'s (BHS … BTS), for senders that read one answer per batch',
  }),
  HL7_PROCESSING_IDS: Type.String({
    default: 'P',
    pattern: PROCESSING_IDS_PATTERN,
    description:
      'the MSH-11 processing ids this adapter takes, comma-separated: P production, D debugging, T training; a message with another is refused AR (error 202) and not stored (an empty MSH-11 counts as P). A production adapter takes P only: a training message must not change a real chart',
  }),
  HL7_PARTITIONS: Env.integer(8, 'delivery partitions (a hash of the patient id): order holds within one; do not change while deliveries are pending', 1),
  HL7_MRN_AUTHORITIES: Env.string('', "this hospital's MRN assigning authorities (PID-3/MRG-1 CX-4 namespace or universal id), comma-separated: a list with other facilities' MRs (an HIE feed) takes ours, and one with only theirs is refused; empty: the repetition typed MR, whatever its authority"),
  HL7_DATABASE_URL: Env.optionalString('the message store database (default: database ficus_hl7 on DATABASE_URL\'s server)'),
  HL7_API_HOST: Env.string('0.0.0.0', 'address of the adapter\'s HTTP endpoints (health, metrics, /api/hl7)'),
  HL7_API_PORT: Env.port(8091, 'port of the adapter\'s HTTP endpoints'),
  HL7_API_TRUSTED_PROXIES: Env.string('127.0.0.1,::1,::ffff:127.0.0.1', "addresses whose X-Forwarded-For is believed (the admin API passing /api/hl7 through), so the audit log names the caller's address; empty: none"),
  HL7_LEGACY_CONNECT_TIMEOUT_MS: Env.integer(3_000, 'connecting to the legacy inbound', 100),
  HL7_LEGACY_ACK_TIMEOUT_MS: Env.integer(15_000, 'waiting for the legacy inbound\'s ACK before trying again', 100),
  HL7_LEGACY_RETRY_ON: Type.String({
    default: DEFAULT_LEGACY_RETRY_ON,
    pattern: RETRY_ON_PATTERN,
    description:
      "legacy's refusals that are temporary: the lane is held and the message tried again with backoff (any other refusal is a dead letter); comma-separated: an error code (ERR-3) such as 207, an MSA-1 code (AE, AR, CE, CR), both (AE:207), or MSA-1 naming no error code (AR:none); empty: every refusal is a dead letter",
  }),
  HL7_MAX_BACKOFF_MS: Env.integer(30_000, 'longest wait between two tries of a delivery', 100),
  HL7_DISPATCH_POLL_MS: Env.integer(500, 'safety-net look for pending deliveries', 10),
  HL7_STORE_PARALLEL: Env.integer(2, 'store statements in flight at once (each commits a group of messages from any connections)', 1),
  HL7_RETENTION_DAYS: Env.integer(0, 'delete stored messages (and rejected frames) older than this many days once every delivery of theirs is done; 0: keep them all', 0),
  HL7_QUEUE_PREFIX: Env.string('bull', "BullMQ key prefix of the new services' queues (BullMQ's default); their consumers must use the same"),
  HL7_QUEUE_TIMEOUT_MS: Env.integer(10_000, 'a publish to a queue not answered within this is tried again later', 100),
  HL7_SERVICE_ACK_WAIT_MS: Env.integer(
    300_000,
    "mode new, enhanced mode: how long an application ACK waits, once the message is on the service's queue, for the service to apply it (AA) or give it up (AE/AR); past it none is sent on that connection, and a resend gets it once the service has settled (well above the services' SERVICE_HL7_WAIT_FOR_KEYS_MS: an earlier message of the partition may be waiting too)",
    1_000,
  ),
  DATABASE_URL: Env.string('postgres://postgres@127.0.0.1:5432/postgres', 'PostgreSQL server (message store ficus_hl7; rule store, tokens and audit in ficus_gateway)'),
  FICUS_STORE_URL: Env.optionalString('the rule store database itself (default: database ficus_gateway on DATABASE_URL\'s server)'),
  REDIS_URL: Env.string('redis://127.0.0.1:6379', 'Redis: the new services\' HL7 queues (BullMQ) and rule change notifications'),
  FICUS_RULES_SOURCE: Type.Unsafe<'store' | 'files'>({ type: 'string', enum: ['store', 'files'], default: 'store', description: 'the HL7 rules: from the rule store, or from the rule files' }),
  FICUS_RULES_DIR: Env.string(DEFAULT_RULES_DIR, 'rule files: the store\'s first version, or the rules themselves in files mode'),
  FICUS_RULES_CHECK_MS: Env.integer(2_000, 'safety-net check of the rule store\'s version', 100),
  FICUS_RULES_POLL_MS: Env.integer(5_000, 'files mode: safety-net re-read of the rule folder', 100),
  FICUS_RULES_SETTLE_MS: Env.ruleFilesSettleMs(RULE_FILES_SETTLE_MS),
  FICUS_STATE_DIR: Env.string(DEFAULT_STATE_DIR, 'where the last good copy of the rules is kept'),
  FICUS_EMERGENCY_FILE: Env.optionalString(
    'the emergency override file (default: $FICUS_STATE_DIR/emergency-legacy.yaml), the gateway\'s format: the HL7 rules it names (`rules: [id, …]` or `rules: all`) go to the legacy inbound only whatever the rule store serves, until it is removed',
  ),
  FICUS_OIDC_ISSUER: Env.optionalString('OIDC: accept JWTs from this issuer'),
  FICUS_OIDC_AUDIENCE: Env.optionalString('OIDC: the audience the JWTs must name'),
  FICUS_OIDC_JWKS_URL: Env.optionalString("OIDC: the issuer's key set (JWKS) URL"),
  FICUS_OIDC_ROLE_CLAIM: Env.string('ficus_role', 'OIDC: the claim holding the role'),
  HL7_LOG_CONTROL_IDS: Type.Unsafe<'hashed' | 'plain'>({
    type: 'string',
    enum: ['hashed', 'plain'],
    default: 'hashed',
    description:
      'how the logs show HL7 control ids (MSH-10), which some engines build from MRNs or visit numbers: hashed, as sha256:/hmac: and 12 hex digits unless shaped like a generated id (a UUID); plain, as they are (a site whose control ids carry no patient data)',
  }),
  FICUS_LOG_ID_KEY: Env.optionalString('a secret shared by every component: control ids the logs do not show as they are are logged as an HMAC under it (hmac:) instead of a plain SHA-256 (sha256:); the same as the gateway\'s'),
  FICUS_SHUTDOWN_TIMEOUT_MS: Env.integer(10_000, 'on SIGTERM, wait this long for messages being stored and answered'),
  LOG_LEVEL: Env.level(),
});

export type AdapterConfig = Static<typeof AdapterConfigSchema>;

export function loadAdapterConfig(env: NodeJS.ProcessEnv = process.env): AdapterConfig {
  return loadConfig(AdapterConfigSchema, env);
}

export const messageStoreUrl = (c: AdapterConfig) => c.HL7_DATABASE_URL ?? withDatabase(c.DATABASE_URL, 'ficus_hl7');
export const ruleStoreUrl = (c: AdapterConfig) => c.FICUS_STORE_URL ?? withDatabase(c.DATABASE_URL, 'ficus_gateway');
export const emergencyFile = (c: AdapterConfig) => c.FICUS_EMERGENCY_FILE ?? path.join(c.FICUS_STATE_DIR, EMERGENCY_FILE_NAME);
/** The processing ids HL7_PROCESSING_IDS names. */
export const processingIds = (c: AdapterConfig): ReadonlySet<string> => new Set(c.HL7_PROCESSING_IDS.split(',').map((id) => id.trim()));

export function tlsOptions(c: AdapterConfig): TlsOptions | undefined {
  if (!c.HL7_TLS_CERT_FILE || !c.HL7_TLS_KEY_FILE) return undefined;
  return {
    cert: readFileSync(c.HL7_TLS_CERT_FILE),
    key: readFileSync(c.HL7_TLS_KEY_FILE),
    ...(c.HL7_TLS_CA_FILE ? { ca: readFileSync(c.HL7_TLS_CA_FILE) } : {}),
    requestCert: c.HL7_TLS_REQUIRE_CLIENT_CERT,
    rejectUnauthorized: c.HL7_TLS_REQUIRE_CLIENT_CERT,
  };
}
