/**
 * Write load on the stand-in legacy tables, for the CDC tests (bounded: a number of
 * transactions) and the CDC benchmark (a steady rate). Each transaction is one round trip: a
 * few statements in one multi-statement query, touching patients, admissions and results with
 * inserts, updates and deletes.
 */
import type pg from 'pg';

/** One transaction of `rows` result inserts, a patient update, a result update and (sometimes) a delete. */
export function transactionSql(n: number, rows: number): string {
  const mrn = 100001 + (n % 50); // the first 50 seeded patients take the updates
  // the update takes the session's last identity value (a row of this transaction), the delete
  // the first row of this transaction's order (ids of concurrent sessions interleave): both by
  // index however large the table grows
  // (a sub-select: evaluated once, so the primary key index is used; currval itself is volatile)
  const last = "(SELECT currval(pg_get_serial_sequence('lab_result', 'result_id')))";
  return `BEGIN;
INSERT INTO LAB_RESULT (PAT_MRN, ORDER_NO, TEST_CD, TEST_NM, RESULT_VAL, UNITS, RESULT_STAT_CD, COLLECT_DT)
  SELECT '${mrn}', 'L${n}', '2345-7', 'GLUCOSE', (random() * 10)::numeric(4,1)::text, 'mmol/L', 'P', LOCALTIMESTAMP(0) FROM generate_series(1, ${rows});
UPDATE PATIENT_MASTER SET PHONE_NO = '217-555-' || lpad(((${n} * 7919) % 10000)::text, 4, '0') WHERE PAT_MRN = '${mrn}';
UPDATE LAB_RESULT SET RESULT_STAT_CD = 'F' WHERE RESULT_ID = ${last};
${n % 3 === 0 && rows > 1 ? `DELETE FROM LAB_RESULT WHERE RESULT_ID = (SELECT min(RESULT_ID) FROM LAB_RESULT WHERE ORDER_NO = 'L${n}');` : ''}
COMMIT;`;
}

/** changes per transaction of transactionSql(n, rows), on average */
export const changesPerTransaction = (rows: number) => rows + 2 + 1 / 3;

/** Runs `transactions` transactions on `concurrency` connections; answers how many committed. */
export async function boundedLoad(pool: pg.Pool, o: { transactions: number; concurrency: number; rows: number; first?: number; stop?: () => boolean }): Promise<number> {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      const client = await pool.connect();
      try {
        while (next < o.transactions && !o.stop?.()) {
          const n = (o.first ?? 0) + next++;
          await client.query(transactionSql(n, o.rows));
          done++;
        }
      } finally {
        client.release();
      }
    }),
  );
  return done;
}
