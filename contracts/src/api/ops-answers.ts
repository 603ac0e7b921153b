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
  deliveries: { target: string; pending: number; dead: number; delivered: number }[];
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

/** GET /api/cdc/status */
export interface CdcStatus {
  sources: CdcSourceStatus[];
  writeback: { enabled: boolean; services: { name: string; applied: number; lastAppliedAt: string | null }[]; deadLetters?: number | null };
  topics?: unknown;
}
