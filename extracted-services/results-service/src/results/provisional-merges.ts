/**
 * A result results-service takes from HL7 while the legacy is the system of record stays
 * provisional until the legacy's copy comes through CDC and gives it the legacy's id; the two
 * are matched by patient, order and test. When the legacy had merged the patient away just
 * before the result came (the legacy follows its merge: the survivor's result) and the merge
 * had not reached patient-service yet, results-service filed the result under the merged-away
 * patient, the legacy's copy came under the survivor, the two never matched, and the result was
 * kept twice: once on the merged-away record, which the legacy shows empty.
 *
 * So provisional results are looked at again once they are a period old: those of a patient
 * patient-service now says was merged move to the survivor, or are dropped where the survivor
 * already has the legacy's copy of that order and test. A patient that was not merged is looked
 * at again less and less often (up to every 10 minutes), so results the legacy never took
 * (its dead letters) cost little.
 */
import { FailureStreak, withTransaction, type Logger } from '@ficus/contracts';
import { lockEarlyCopies } from '@ficus/service-kit';
import type pg from 'pg';
import type { PatientDirectory } from '../patient-directory.js';

const MAX_BACKOFF_MS = 600_000;
const BATCH = 200;

export interface FollowOutcome {
  moved: number;
  dropped: number;
}

export class ProvisionalResultsFollowMerges {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private readonly nextLook = new Map<string, { at: number; everyMs: number }>();
  private readonly failures: FailureStreak;

  constructor(
    private readonly pool: pg.Pool,
    private readonly patients: PatientDirectory,
    private readonly log: Logger,
    /** how often, and how old a provisional result must be to be looked at again; 0: never */
    private readonly periodMs: number,
  ) {
    this.failures = new FailureStreak(log, 'checking provisional results for merges', 30);
  }

  start(): void {
    if (this.periodMs <= 0) return;
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return; // a slow patient-service: the next look waits for this one
      busy = true;
      this.running = this.runOnce()
        .then(() => this.failures.succeeded())
        .catch((e: Error) => this.failures.failed(e))
        .finally(() => (busy = false));
    }, this.periodMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async runOnce(now = Date.now()): Promise<FollowOutcome> {
    const { rows } = await this.pool.query<{ mrn: string }>(
      `SELECT DISTINCT mrn FROM lab_result WHERE provisional AND updated_at <= LOCALTIMESTAMP(0) - make_interval(secs => $1) LIMIT ${BATCH}`,
      [this.periodMs / 1000],
    );
    if (this.nextLook.size > 10 * BATCH) this.nextLook.clear();
    const total: FollowOutcome = { moved: 0, dropped: 0 };
    for (const { mrn } of rows) {
      const due = this.nextLook.get(mrn);
      if (due && due.at > now) continue;
      const survivor = await this.patients.resolve(mrn);
      if (survivor === undefined || survivor === mrn) {
        const everyMs = Math.min(MAX_BACKOFF_MS, (due?.everyMs ?? this.periodMs) * 2);
        this.nextLook.set(mrn, { at: now + everyMs, everyMs });
        continue;
      }
      this.nextLook.delete(mrn);
      const outcome = await this.follow(mrn, survivor);
      total.moved += outcome.moved;
      total.dropped += outcome.dropped;
    }
    if (total.moved + total.dropped > 0) this.log.info(total, 'provisional results of merged patients moved to the survivor (or dropped: the legacy copy is there)');
    return total;
  }

  private follow(merged: string, survivor: string): Promise<FollowOutcome> {
    return withTransaction(this.pool, async (tx) => {
      // not beside an ORU for either patient, nor the legacy's copies coming through CDC
      await lockEarlyCopies(tx, 'lab-result', [merged, survivor], 'handler');
      const dropped = await tx.query<{ id: string }>(
        `DELETE FROM lab_result p WHERE p.provisional AND p.mrn = $1
            AND EXISTS (SELECT 1 FROM lab_result c WHERE NOT c.provisional AND c.mrn = $2 AND c.order_number = p.order_number AND c.test_code = p.test_code)
         RETURNING p.id`,
        [merged, survivor],
      );
      if (dropped.rows.length > 0) await tx.query('DELETE FROM lab_result_version WHERE result_id = ANY($1::bigint[])', [dropped.rows.map((r) => r.id)]);
      const moved = await tx.query('UPDATE lab_result SET mrn = $2 WHERE provisional AND mrn = $1', [merged, survivor]);
      return { moved: moved.rowCount ?? 0, dropped: dropped.rows.length };
    });
  }
}
