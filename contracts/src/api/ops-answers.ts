/**
 * Answers of the HL7 adapter's and the CDC deployable's APIs (served through the admin API) that
 * more than one client reads: the CLI and the dashboard. Types only, with no import, so the
 * browser code can use them.
 */

/** one dead letter of GET /api/hl7/dead-letters */
export interface Hl7DeadLetter {
  deliveryId: number;
  messageId: number;
  target: string;
  /** the target's answer: `AE: why`, `AR: why`, or the last error */
  answer: string | null;
  attempts: number;
  at: string;
  controlId: string;
  sendingFacility: string;
  type: string;
  trigger: string;
  /** the replay's delivery that went through, when one did */
  resolvedBy: number | null;
}

export interface Hl7DeadLettersAnswer {
  deadLetters: Hl7DeadLetter[];
}

/** GET /api/hl7/stats */
export interface Hl7Stats {
  since: string;
  messages: { type: string; trigger: string; count: number }[];
  acks: { code: string; count: number }[];
  rejected: number;
  /** gaveUp (a service's queue): the jobs its service dead-lettered and still holds; null for legacy, or when they could not be read */
  deliveries: { target: string; pending: number; dead: number; delivered: number; gaveUp?: number | null }[];
}

/**
 * GET /api/hl7/emergency: the emergency override file of the HL7 adapter instance that answered,
 * as its /readyz says it (which the admin API does not pass through): the HL7 rules it holds in
 * legacy whatever the rule store serves. No `override` when none is in force.
 */
export interface Hl7EmergencyAnswer {
  instance: { hostname: string; pid: number };
  file: string;
  override?: {
    rules: 'all' | string[];
    reason?: string;
    by?: string;
    /** since when this instance applies it */
    since: string;
    /** the HL7 rules it holds in legacy */
    pinned: string[];
    /** names that are no rule */
    unknown: string[];
    /** names of HTTP rules: the gateway's, not held here */
    http: string[];
  };
  /** the file's last refused content, until it is valid again or removed */
  lastRefused?: { at: string; issues: string[] };
}

/** one source of GET /api/cdc/status */
export interface CdcSourceStatus {
  name: string;
  kind: 'postgres' | 'mssql';
  state: 'streaming' | 'snapshot' | 'stopped' | 'error';
  lagBytes: number | null;
  lagMs: number | null;
  lastPosition: string | null;
  lastCommitAt: string | null;
  changesPerSecond: number;
  error?: string;
}

/** A write-back partition held by updates of rows the legacy no longer has under their keys. */
export interface WritebackGoneRowHold {
  partition: number;
  topics: string[];
  /** the updates still waiting */
  rows: number;
  since: string;
  /** what they wait for: CDC's slot to pass the legacy's WAL position when the rows were seen missing */
  waitingFor: string;
  /** when those still waiting are dead-lettered as not known (CDC_WRITEBACK_GONE_WAIT_MS after since) */
  until: string;
}

/** A write-back partition held by rows a legacy foreign key refuses until their parent row is there (no key values). */
export interface WritebackParentWait {
  partition: number;
  topics: string[];
  /** the rows refused for their parent at the last try */
  rows: number;
  /** the foreign keys that refused them: the legacy table, the constraint, and the parent table it wants (null: not known) */
  foreignKeys: { table: string; constraint: string; parentTable: string | null }[];
  since: string;
  /** when rows still refused are dead-lettered (CDC_WRITEBACK_FK_WAIT_MS after since) */
  until: string;
}

/** The emergency override file as the CDC deployable's legacy writer applies it. */
export interface WritebackEmergency {
  file: string;
  /** what the file names */
  rules: 'all' | string[];
  reason?: string;
  by?: string;
  /** since when this CDC instance applies it */
  since: string;
  /** the write-back services whose record rule it holds in legacy (CDC_WRITEBACK_RECORD_RULES) */
  services: { name: string; rule: string }[];
}

/** GET /api/cdc/status */
export interface CdcStatus {
  sources: CdcSourceStatus[];
  writeback: {
    enabled: boolean;
    /** `waiting`: since when write-back jobs wait for the legacy database to be available again (null: they do not) */
    services: {
      name: string;
      applied: number;
      lastAppliedAt: string | null;
      waiting?: { since: string; lastError: string; partitions: number[]; tries: number } | null;
      /** partitions held by updates whose legacy row is gone, waiting for CDC to read that far (no key values) */
      goneRows?: WritebackGoneRowHold[];
      /** partitions held by rows waiting for their parent row (a legacy foreign key refused them), until CDC_WRITEBACK_FK_WAIT_MS */
      parentWaits?: WritebackParentWait[];
    }[];
    deadLetters?: number | null;
    /** the emergency override file, while it is in force: the services whose record it gives the legacy (their legacy edits stay); null when none */
    emergency?: WritebackEmergency | null;
  };
  /**
   * Dead letters of the services' change queues (`cdc.<topic>`): change batches a service gave
   * up on, so its copy of those rows is stale until one is replayed. null when Redis did not answer.
   */
  consumerDeadLetters?: { prefix: string; count: number }[] | null;
  /**
   * Since when change events wait for Redis, which has not taken a flush for 5 s (enqueueing has
   * stopped; /readyz answers 503 meanwhile), and why; null while Redis takes them.
   */
  enqueue?: { waitingSince: string; reason: string } | null;
  topics?: unknown;
  /** what the operator should know and tidy: Redis not answering, mapping entries that name no column (with file:line) */
  warnings?: string[];
}

/** one dead letter of GET /api/hl7/queues/dead-letters and /api/cdc/queues/dead-letters */
export interface QueueDeadLetter {
  /** the partition queue the job came from, and goes back to on replay */
  queue: string;
  /** the dead letter's own id (in `<queue>.dead`) */
  id: string;
  /** the job's id when it failed */
  jobId: string;
  error: string;
  attempts: number;
  failedAt: string;
  /** after this, a replay needs `force`: the consumer may have forgotten deleted rows */
  replaySafeUntil: string | null;
  /** identifiers only (message id, control id, type; or counts, tables, positions), never patient values */
  summary: Record<string, unknown>;
}

/** GET /api/hl7/queues/dead-letters, /api/cdc/queues/dead-letters */
export interface QueueDeadLetters {
  /** dead letters per queue family, all of them (the list itself is cut at the limit) */
  counts: { prefix: string; count: number }[];
  deadLetters: QueueDeadLetter[];
}

/** POST …/queues/dead-letters/replay and …/discard */
export interface QueueDeadLetterAction {
  letter: QueueDeadLetter;
  /** replay: the new job's id in the partition queue */
  replayedAs?: string;
}

/** POST …/queues/dead-letters/replay-all */
export interface QueueDeadLettersReplayed {
  replayed: number;
  /** past their safe replay time and not forced: left where they are */
  leftUnsafe: number;
  /** beyond `max`: left for another call */
  remaining: number;
}

/**
 * A CDC change an extracted service did not apply (the conflict rule: a legacy change older
 * than the service's own later change), as listed for review: no field values (they are PHI).
 */
export interface ServiceConflict {
  /** the service's own id of the conflict (show and resolve name it) */
  id: string;
  service: string;
  topic: string;
  /** the row's key as the change carried it ({"mrn":"1234567"}) */
  key: Record<string, unknown>;
  op: string;
  /** the CDC source and its position of the change */
  source: string;
  position: string;
  /** when the legacy committed the change (null: the source gave no time) */
  commitTime: string | null;
  /** why it was not applied (which fields the service kept, or the whole row) */
  reason: string;
  recordedAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolutionNote: string | null;
}

/** GET /api/services/<service>/conflicts */
export interface ServiceConflicts {
  service: string;
  /** the conflicts not resolved yet, per topic, all of them (the list itself follows the filters and is cut at the limit) */
  unresolved: { topic: string; count: number; /** when the oldest of them was recorded */ oldest: string }[];
  conflicts: ServiceConflict[];
  /** pass as `cursor` for the next (older) page; null: no more */
  nextCursor: string | null;
}

/** GET /api/services/<service>/conflicts/<id>: the conflict and the change itself (PHI: field values) */
export interface ServiceConflictDetail extends ServiceConflict {
  change: { before: Record<string, unknown> | null; after: Record<string, unknown> | null; origin?: string };
}
