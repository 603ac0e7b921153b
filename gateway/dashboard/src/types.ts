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
}

export interface Parity {
  rule: string;
  compared: number;
  mismatches: number;
  parity: number | null;
  window: string;
  topFields: { field: string; count: number }[];
  gate: { threshold: number; minCompared: number; window: string; gateAbovePercent: number | null; open: boolean | null } | null;
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

export interface Hl7Stats {
  since: string;
  messages: { type: string; trigger: string; count: number }[];
  acks: { code: string; count: number }[];
  rejected: number;
  deliveries: { target: string; pending: number; dead: number; delivered: number }[];
}

export interface DeadLetter {
  deliveryId: number;
  messageId: number;
  target: string;
  answer: string | null;
  attempts: number;
  at: string;
  controlId: string;
  sendingFacility: string;
  type: string;
  trigger: string;
}

export interface CdcSource {
  name: string;
  kind: string;
  state: 'streaming' | 'snapshot' | 'stopped' | 'error';
  lagBytes: number | null;
  lagMs: number | null;
  lastPosition: string | null;
  lastCommitAt: string | null;
  changesPerSecond: number;
  error?: string;
}
