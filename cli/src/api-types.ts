/**
 * The answers of the admin API, as far as the CLI reads them (see gateway/src/admin/routes/).
 * With --json the CLI prints them as they came, so fields not named here still reach scripts.
 */
import type { Hl7Rule, HttpRule, RuleSet, Upstream } from '@ficus/contracts/rules';

export interface ChangeRecord {
  kind: 'seed' | 'flip' | 'apply' | 'import' | 'rollback';
  summary: string;
  rule?: string;
  rollbackTo?: number;
  /** made past a closed parity gate by an admin */
  forced?: boolean;
}

export interface VersionInfo {
  version: number;
  author: string;
  reason: string;
  change: ChangeRecord;
  createdAt: string;
}

export interface VersionDetail extends VersionInfo {
  ruleSet: RuleSet;
}

/** GET /api/rules */
export interface CurrentRules {
  version: number;
  createdAt: string;
  author: string;
  reason: string;
  rules: HttpRule[];
  /** HL7 message routing rules (empty when the rule set has none) */
  hl7: Hl7Rule[];
  upstreams: Record<string, Upstream>;
  /** the emergency override file the answering gateway instance applies, while one is in force (never part of the stored rules) */
  emergency?: { file: string; since: string; by?: string; reason?: string; pinned: string[]; hl7?: string[]; scope?: string };
}

/** GET /api/rules/{id} */
export interface OneRule {
  version: number;
  index: number;
  rule: HttpRule;
  /** the answering instance's emergency override file, while it holds this rule in legacy */
  emergency?: CurrentRules['emergency'];
}

/** GET /api/explain */
export interface Explanation {
  version: number;
  rule: string | null;
  mode: string | null;
  target: string | null;
  reason: string;
  /** held in legacy by the instance's emergency override file: `target` is legacy whatever the mode */
  emergency?: true;
}

/** POST /api/rules/{id}/flip: no `change` when the rule already routes so (no new version) */
export type FlipAnswer =
  | {
      version: number;
      changed: true;
      change: ChangeRecord;
      rule: HttpRule;
      /** what the flipped rule now allows but probably should not */
      warnings?: { ruleId?: string; field?: string; reason: string; pointer: string }[];
    }
  | { version: number; changed: false; rule: HttpRule; warnings?: undefined };

/** PUT /api/rules and POST /api/rollback: no `change` when nothing changed (no new version) */
export type ChangeAnswer = { version: number; changed: true; change: ChangeRecord } | { version: number; changed: false };
export type ApplyAnswer = ChangeAnswer;
export type RollbackAnswer = ChangeAnswer;

/** GET /api/versions */
export interface VersionList {
  current: number;
  versions: VersionInfo[];
}

export interface FieldChange {
  field: string;
  from?: unknown;
  to?: unknown;
}

/** GET /api/versions/{a}/diff/{b} */
export interface VersionDiff {
  from: number;
  to: number;
  diff: {
    rules: {
      added: { id: string; index: number }[];
      removed: { id: string; index: number }[];
      moved: { id: string; from: number; to: number }[];
      changed: { id: string; changes: FieldChange[] }[];
    };
    upstreams: {
      added: string[];
      removed: string[];
      changed: { name: string; changes: FieldChange[] }[];
    };
    identical: boolean;
  };
}

export interface AuditRecord {
  id: number;
  at: string;
  actor: string;
  /** the token that acted, when a token did */
  tokenId?: number;
  role?: string;
  auth: string;
  sourceIp?: string;
  userAgent?: string;
  action: string;
  target?: string;
  reason?: string;
  outcome: string;
  status: number;
  version?: number;
  detail?: Record<string, unknown>;
}

export interface TokenInfo {
  id: number;
  name: string;
  role: string;
  createdAt: string;
  createdBy: string;
  revokedAt?: string;
  revokedBy?: string;
  lastUsedAt?: string;
  expiresAt?: string;
}

/** POST /api/tokens: the one answer that holds a token's secret */
export interface NewToken extends TokenInfo {
  token: string;
}

/** GET /api/parity: one object per rule */
export interface ParityFigures {
  rule: string;
  kind: 'http' | 'hl7' | null;
  mode: string | null;
  compared: number;
  mismatches: number;
  skipped: number;
  /** 0..1; null when nothing was compared */
  parity: number | null;
  /** distinct keys (patients) compared in the window, those with a mismatch, and their parity (null: none) */
  keys: number;
  mismatchedKeys: number;
  keyParity: number | null;
  window: string;
  topFields: { field: string; count: number }[];
  total: { compared: number; mismatches: number; skipped: number; parity: number | null; since: string | null };
  gate: { threshold: number; minCompared: number; minKeys: number; window: string; gateAbovePercent: number | null; open: boolean | null } | null;
}

export interface ParityAnswer {
  version: number;
  rules: ParityFigures[];
}

/** GET /api/parity/{rule} */
export interface RuleParity extends ParityFigures {
  totalTopFields: { field: string; count: number }[];
  samples: { id: number; at: string; method?: string; route?: string; legacyStatus?: number; targetStatus?: number; fields: string[]; diff: { path: string; kind: string; legacy?: unknown; target?: unknown }[]; text: string; redacted: boolean }[];
}

/** One delivery of an HL7 message: to the legacy inbound (`legacy:<upstream>`) or a queue (`queue:<service>`) */
export interface Hl7Delivery {
  id: number;
  target: string;
  status: 'pending' | 'delivered' | 'dead';
  attempts: number;
  answer: string | null;
  lastError: string | null;
  deliveredAt: string | null;
  replay: boolean;
  /** a queue delivery whose job the service then gave up on (dead-lettered; `ficus queues dead-letters`), with its reason */
  gaveUp?: { error: string; at: string | null } | null;
  /** a pending delivery that waits: why (a message of several patients, its lanes, the service's unfinished jobs) */
  held?: string | null;
}

/** GET /api/hl7/messages (newest first), GET /api/hl7/messages/{id} (with ?raw=true also `raw` and `charset`) */
export interface Hl7MessageInfo {
  id: number;
  receivedAt: string;
  sendingApplication: string;
  sendingFacility: string;
  controlId: string;
  type: string;
  trigger: string;
  ruleId: string;
  mode: string;
  /** routed by the emergency override file (mode legacy whatever the rule said); absent from adapters before it */
  emergency?: boolean;
  ackCode: string;
  deliveries: Hl7Delivery[];
  /** set when the services' dead letters could not be read (gaveUp then unknown) */
  serviceDeadLetters?: string;
  /** the message's bytes as a latin1 string, one character per byte (operators, ?raw=true) */
  raw?: string;
  /** the message decoded by its charset (operators, ?raw=true) */
  text?: string;
  charset?: string;
}

/** GET /api/hl7/rejects (newest first), GET /api/hl7/rejects/{id} (with ?raw=true, operators, also `raw`) */
export interface Hl7RejectInfo {
  id: number;
  receivedAt: string;
  peer: string | null;
  /** MSH-3.1 / MSH-4.1 (BHS/FHS for a batch) as the frame has them; null when it does not begin with a header */
  sendingApplication: string | null;
  sendingFacility: string | null;
  controlId: string | null;
  errorCode: number;
  error: string;
  bytes: number;
  /** the frame's bytes as a latin1 string, one character per byte */
  raw?: string;
}

/** POST /api/hl7/replay */
export interface Hl7ReplayAnswer {
  messages: number;
  deliveries: number;
}

/** GET /api/hl7/dead-letters and /api/hl7/stats: the adapter's own types (the dashboard reads them too) */
export type { Hl7DeadLetter, Hl7Stats } from '@ficus/contracts/api';

/** GET /api/upstreams (the gateway's upstream-routes.ts), the part the CLI reads */
export interface UpstreamsView {
  instance: { hostname: string; pid: number; startedAt: string };
  rules: { source: 'store' | 'files'; version: number | null; state: string };
  upstreams: {
    name: string;
    url: string;
    health: 'unknown' | 'healthy' | 'unhealthy';
    circuit: { state: 'closed' | 'half-open' | 'open'; since: string; reason: string | null };
    lastError: string | null;
    /** `emergency`: held in legacy by the instance's emergency override file, whatever the rule store says */
    rules: { id: string; mode: string; role: 'target' | 'legacy'; emergency?: true }[];
    warnings: { rule: string; text: string }[];
  }[];
  /** the instance's emergency override file, while one is in force */
  emergency?: { file: string; since: string; by?: string; reason?: string; pinned: string[] };
}
