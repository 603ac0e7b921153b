/**
 * MRN assignment once patient-service is the system of record for registrations.
 *
 * The rule: the service hands out MRNs from a block of its own (PATIENT_SERVICE_MRN_FIRST …
 * PATIENT_SERVICE_MRN_LAST, same number of digits, default 9000000–9999999), upwards, and
 * never one it has seen: every MRN it learns (through CDC from the legacy, through HL7 from
 * the sending systems, or by assigning it) that falls in the block moves the block's next
 * value past it, and the next value is never below the highest MRN of the block in its
 * database. The legacy's own sequence (PAT_MRN_SEQ, 100001 up) stays below the block, so the
 * two never meet; the legacy only enters the block if a sending system registers a patient
 * there through the legacy's HL7 inbound, and then the service learns it through CDC and skips
 * past it. Write-back inserts the service's MRNs into the legacy as they are and must not move
 * PAT_MRN_SEQ (the legacy's inbound moves its sequence past an MRN it registers; the writer
 * must not, or the legacy's next registration would land in the block).
 */
import type pg from 'pg';
import { LegacyError } from '@ficus/legacy-his/contract';

export class MrnBlock {
  private readonly width: number;

  constructor(
    readonly first: number,
    readonly last: number,
  ) {
    this.width = String(first).length;
    if (!(first >= 100_000 && last <= 9_999_999_999 && first < last && String(last).length === this.width)) {
      throw new Error('the MRN block must be 6 to 10 digits, first below last, both of the same number of digits');
    }
  }

  /** Creates the block's row, or moves it up to a first MRN raised by configuration. */
  async init(pool: pg.Pool): Promise<void> {
    await pool.query(
      `INSERT INTO mrn_block (next_mrn) VALUES ($1) ON CONFLICT (singleton) DO UPDATE SET next_mrn = greatest(mrn_block.next_mrn, excluded.next_mrn)`,
      [this.first],
    );
  }

  /** The next MRN, in the caller's transaction (the block's row stays locked until it ends). */
  async assign(tx: pg.PoolClient): Promise<string> {
    const { rows } = await tx.query<{ next_mrn: string; highest: string | null }>(
      `SELECT b.next_mrn,
              (SELECT mrn FROM patient WHERE mrn BETWEEN $1 AND $2 AND length(mrn) = $3 ORDER BY mrn DESC LIMIT 1) AS highest
         FROM mrn_block b FOR UPDATE OF b`,
      [String(this.first), String(this.last), this.width],
    );
    const row = rows[0];
    if (!row) throw new Error('the MRN block is not initialised');
    const candidate = Math.max(Number(row.next_mrn), row.highest === null ? this.first : Number(row.highest) + 1, this.first);
    if (candidate > this.last) throw new LegacyError(503, 'No medical record number left to assign');
    await tx.query('UPDATE mrn_block SET next_mrn = $1', [candidate + 1]);
    return String(candidate);
  }

  /** Moves the block past MRNs learned from elsewhere (CDC, HL7) that fall in it. */
  async learn(tx: pg.PoolClient, mrns: readonly string[]): Promise<void> {
    const inBlock = mrns.filter((m) => m.length === this.width && /^[0-9]+$/.test(m) && Number(m) >= this.first && Number(m) <= this.last);
    if (inBlock.length === 0) return;
    const highest = Math.max(...inBlock.map(Number));
    await tx.query('UPDATE mrn_block SET next_mrn = greatest(next_mrn, $1)', [highest + 1]);
  }
}
