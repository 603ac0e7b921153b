/**
 * What one HL7 message changed, gathered while its handler runs, so that (with the service as
 * system of record) each changed row goes to the outbox seam once, in the message's
 * transaction.
 */
import type { Hl7Context, OutboxSeam, OutgoingChange } from '@ficus/service-kit';
import { mergeRecorded, patientChanged, stayChanged } from '../outbox-seam.js';
import { beforeLocalChange, type BeforeLocalChange } from '../patients/local-changes.js';

type Op = OutgoingChange['op'];

class Touched {
  readonly patients = new Map<string, Op>();
  /** each patient as it was before the message's first change to it (snapshotPatient) */
  readonly before = new Map<string, BeforeLocalChange>();
  readonly stays = new Map<string, Op>();
  readonly merges: string[] = [];
}

const touchedOf = new WeakMap<Hl7Context, Touched>();

const keep = (map: Map<string, Op>, key: string, op: Op) => {
  if (map.get(key) !== 'create') map.set(key, op);
};

export const touchPatient = (ctx: Hl7Context, mrn: string, op: Op) => {
  const t = touchedOf.get(ctx);
  if (t) keep(t.patients, mrn, op);
};
/**
 * Keeps the patient's row as it is, before the handler changes it, when the change goes to the
 * outbox: the write-back then writes only what the message changed, and a legacy change meeting
 * it is merged field by field (patient-merge.ts).
 */
export async function snapshotPatient(ctx: Hl7Context, mrn: string): Promise<void> {
  const t = touchedOf.get(ctx);
  if (!t || !ctx.writeBack || t.before.has(mrn)) return;
  const before = await beforeLocalChange(ctx.tx, mrn);
  if (before) t.before.set(mrn, before);
}
export const touchStay = (ctx: Hl7Context, id: string, op: Op) => {
  const t = touchedOf.get(ctx);
  if (t) keep(t.stays, id, op);
};
export const touchMerge = (ctx: Hl7Context, id: string) => void touchedOf.get(ctx)?.merges.push(id);

/** Runs a handler, then hands what it changed to the outbox seam (system of record, the legacy not fed the message itself). */
export async function withOutbox<T>(ctx: Hl7Context, outbox: OutboxSeam, handler: () => Promise<T>): Promise<T> {
  const touched = new Touched();
  touchedOf.set(ctx, touched);
  const outcome = await handler();
  if (ctx.writeBack) {
    for (const [mrn, op] of touched.patients) await patientChanged(outbox, ctx.tx, mrn, op, op === 'update' ? (touched.before.get(mrn) ?? null) : null);
    for (const [id, op] of touched.stays) await stayChanged(outbox, ctx.tx, id, op);
    for (const id of touched.merges) await mergeRecorded(outbox, ctx.tx, id);
  }
  return outcome;
}
