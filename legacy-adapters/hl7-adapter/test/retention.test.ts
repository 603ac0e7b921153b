/**
 * Retention (HL7_RETENTION_DAYS): old messages go once every delivery of theirs is done, with
 * their deliveries; a message still pending, or with a dead letter no replay resolved, stays
 * however old; recent messages stay; old rejected frames go.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hl7Rules, startAdapterUnderTest, type AdapterUnderTest } from './support/adapter-harness.js';

let a: AdapterUnderTest;
let db: pg.Pool;
// a target no rule names: the dispatcher leaves these deliveries alone
const TARGET = 'legacy:retired-inbound';

beforeAll(async () => {
  a = await startAdapterUnderTest({ files: hl7Rules('mllp://127.0.0.1:9', 'legacy'), env: { HL7_RETENTION_DAYS: '30' } });
  db = new pg.Pool({ connectionString: a.messageDb.url, max: 2 });
});
afterAll(async () => {
  await db?.end();
  await a?.close();
});

async function message(controlId: string, ageDays: number, deliveries: string[]): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO hl7_messages (received_at, sending_application, sending_facility, receiving_application, receiving_facility, control_id,
                               message_type, trigger_event, version, processing_id, accept_ack_type, application_ack_type,
                               patient_key, charset, raw, peer, rule_id, mode, ack_code)
     VALUES (clock_timestamp() - make_interval(days => $2), 'REG', 'HOSP', 'HIS', 'HOSP', $1, 'ADT', 'A08', '2.5', 'P', '', '', 'X', 'UTF-8', '\\x4d5348'::bytea, NULL, 'r', 'legacy', 'AA')
     RETURNING id`,
    [controlId, ageDays],
  );
  const id = Number(rows[0]!.id);
  for (const status of deliveries) await db.query('INSERT INTO hl7_deliveries (message_id, target, partition, status) VALUES ($1, $2, 0, $3)', [id, TARGET, status]);
  return id;
}

describe('message store retention', () => {
  it('purges what is old and done, keeps what is pending, unresolved or recent', async () => {
    const oldDelivered = await message('OLD-DELIVERED', 40, ['delivered']);
    const oldPending = await message('OLD-PENDING', 40, ['pending']);
    const oldDead = await message('OLD-DEAD', 40, ['dead']);
    const oldDeadReplayed = await message('OLD-DEAD-REPLAYED', 40, ['dead', 'delivered']);
    const oldNoDelivery = await message('OLD-NOWHERE', 40, []);
    const recent = await message('RECENT', 2, ['delivered']);
    await db.query(`INSERT INTO hl7_rejects (received_at, peer, error_code, error_text, raw) VALUES (clock_timestamp() - interval '45 days', NULL, 100, 'old', '\\x00'), (clock_timestamp(), NULL, 100, 'new', '\\x00')`);

    const purged = await a.adapter.retention.purge();

    expect(purged).toEqual({ messages: 3, rejects: 1 });
    const { rows } = await db.query<{ id: string }>('SELECT id FROM hl7_messages WHERE id = ANY($1::bigint[]) ORDER BY id', [[oldDelivered, oldPending, oldDead, oldDeadReplayed, oldNoDelivery, recent]]);
    expect(rows.map((r) => Number(r.id))).toEqual([oldPending, oldDead, recent]);
    const deliveries = await db.query<{ n: string }>('SELECT count(*) AS n FROM hl7_deliveries WHERE message_id = ANY($1::bigint[])', [[oldDelivered, oldDeadReplayed]]);
    expect(Number(deliveries.rows[0]!.n)).toBe(0);
    expect((await db.query<{ error_text: string }>('SELECT error_text FROM hl7_rejects')).rows.map((r) => r.error_text)).toEqual(['new']);
    expect(await a.adapter.retention.purge()).toEqual({ messages: 0, rejects: 0 });
    const metrics = await (await fetch(`${a.apiUrl}/metrics`)).text();
    expect(metrics).toContain('ficus_hl7_purged_total{what="messages"} 3');
  });
});
