/**
 * What the HL7 API's routes share: their dependencies, the problem bodies they answer with, and
 * the audit entry a route writes itself (one that says what was chosen, not only the outcome).
 */
import { Type } from '@sinclair/typebox';
import type pg from 'pg';
import { auditEntry, originOf, type AuditLog, type AuditOutcome, type Principal } from '@ficus/contracts';
import type { ServiceUnfinished } from './held-deliveries.js';
import type { ServiceDeadLetters } from './service-gave-up.js';

export interface Hl7ApiDeps {
  pool: pg.Pool;
  audit: AuditLog;
  /** wakes the dispatcher after a replay */
  replayed: () => void;
  /** the delivery targets the current rules know (`legacy:<upstream>`, `queue:<service>`) */
  knownTargets: () => string[];
  /** writes the intake counts still in memory (before /stats reads them) */
  flushStats: () => Promise<void>;
  /** the services' dead letters of what this adapter queued for them: a queue delivery the service gave up on is shown so */
  serviceDeadLetters: ServiceDeadLetters;
  /** whether a service still has jobs to finish on partitions of its queue: why a message of several patients waits */
  serviceUnfinished: ServiceUnfinished;
  /** FICUS_LOG_ID_KEY: a control id the logs show as hmac: is found by it */
  logIdKey?: string;
}

export const Since = Type.Optional(Type.String({ format: 'date-time' }));

export const problemBody = (status: number, slug: string, title: string, detail: string) => ({ type: `https://ficus.dev/problems/${slug}`, title, status, detail });

export async function record(
  d: Pick<Hl7ApiDeps, 'audit'>,
  who: Principal | undefined,
  req: Parameters<typeof originOf>[0],
  action: string,
  target: string,
  reason: string | undefined,
  detail: Record<string, unknown>,
  answered: { outcome: AuditOutcome; status: number } = { outcome: 'ok', status: 200 },
) {
  await d.audit.append(auditEntry(who, originOf(req), { action, target, reason, ...answered, detail }));
}
