/** The admin API's answers, as far as the dashboard reads them. */
import type { Role } from './api';

export interface WhoAmI {
  actor: string;
  role: Role;
  auth: string;
}

export interface Rule {
  id: string;
  mode: string;
  target?: string;
  percent?: number;
  description?: string;
  match: Record<string, unknown>;
}

export interface RulesAnswer {
  version: number;
  rules: Rule[];
  hl7: Rule[];
  /** this instance's emergency override file, when one is in force: its rules serve from legacy */
  emergency?: {
    pinned: string[];
    reason?: string;
    by?: string;
    since: string;
    file: string;
    /** the file's own list, or all of the instance's rules */
    rules?: string[] | 'all';
    /** HL7 rules the file names: the gateway routes no HL7, so it does not hold them */
    hl7?: string[];
    /** retired HTTP rules the file names: not held (legacy is gone for them) */
    retired?: string[];
    /** names the served rules do not have */
    unknown?: string[];
  };
}

export interface Parity {
  rule: string;
  compared: number;
  mismatches: number;
  parity: number | null;
  /** distinct keys (patients) compared, those with a mismatch, and their parity */
  keys: number;
  mismatchedKeys: number;
  keyParity: number | null;
  window: string;
  topFields: { field: string; count: number }[];
  gate: { threshold: number; minCompared: number; minKeys: number; window: string; gateAbovePercent: number | null; open: boolean | null } | null;
}

export interface Traffic {
  rule: string;
  targets: { target: string; requests: number; errors5xx: number; errors4xx: number }[];
  fallbacks: number;
}

export interface Version {
  version: number;
  author: string;
  reason: string;
  createdAt: string;
  change: { kind: string; summary: string; forced?: boolean };
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target?: string;
  outcome: string;
  reason?: string;
}

/** the HL7 adapter's and the CDC deployable's answers, as the CLI reads them too */
export type { Hl7DeadLetter as DeadLetter, Hl7EmergencyAnswer, Hl7Stats, CdcSourceStatus as CdcSource, QueueDeadLetter, QueueDeadLetters } from '@ficus/contracts/api';
/** the new services' conflicts for review, as `ficus conflicts list` reads them */
export type { ServiceConflict, ServiceConflicts } from '@ficus/contracts/api';
