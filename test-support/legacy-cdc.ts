/**
 * The CDC reader's side of CDC-TOPICS.md, for tests of the services while the reader itself is
 * built elsewhere: the legacy tables read as topic rows (the legacy API's field names, the
 * legacy's values), and published as `ChangeBatch` jobs on `cdc.<topic>.p<n>`, partitioned by
 * `partitionOf(keyText(key), n)`, events of a partition in source order. `snapshot()` publishes
 * every row (op `snapshot`); `sync()` re-reads the tables and publishes what changed since
 * (create, update, delete), as the reader would after the legacy committed something.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { keyText, partitionOf, partitionQueueName, type ChangeBatch, type ChangeEvent, type ChangeOp } from '@ficus/contracts';
import { cdcQueuePrefix } from '@ficus/contracts/queues';

const ts = (column: string) => `to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS')`;

/** topic → the legacy table read under the topic's names, and its key */
export const TOPIC_QUERIES: Record<string, { key: string; table: string; sql: string }> = {
  patients: {
    key: 'mrn',
    table: 'patient_master',
    sql: `SELECT PAT_MRN AS "mrn", PAT_LAST_NM AS "lastName", PAT_FIRST_NM AS "firstName", PAT_MID_NM AS "middleName",
                 to_char(PAT_DOB, 'YYYY-MM-DD') AS "dateOfBirth", SEX_CD AS "sex", ADDR_LINE1 AS "addressLine1", CITY_NM AS "city",
                 STATE_CD AS "state", ZIP_CD AS "zip", PHONE_NO AS "phone", MARITAL_CD AS "maritalStatus", ACTIVE_FLG AS "active",
                 ${ts('CREATE_DT')} AS "created", ${ts('LAST_UPD_DT')} AS "lastUpdated", LAST_UPD_USER AS "lastUpdatedBy"
            FROM PATIENT_MASTER ORDER BY PAT_ID`,
  },
  wards: { key: 'code', table: 'ward', sql: `SELECT WARD_CD AS "code", WARD_DESC AS "description" FROM WARD ORDER BY WARD_CD` },
  admissions: {
    key: 'admissionId',
    table: 'admission',
    sql: `SELECT ADM_ID AS "admissionId", PAT_MRN AS "mrn", ${ts('ADM_DT')} AS "admitDate", ${ts('DSCH_DT')} AS "dischargeDate", WARD_CD AS "ward",
                 BED_NO AS "bed", ADM_TYPE_CD AS "admissionType", ATTEND_DR_ID AS "attendingDoctorId", DSCH_DISP_CD AS "dischargeDisposition",
                 VISIT_NO AS "visitNumber", ${ts('LAST_UPD_DT')} AS "lastUpdated"
            FROM ADMISSION ORDER BY ADM_ID`,
  },
  'lab-results': {
    key: 'resultId',
    table: 'lab_result',
    // RESULT_ID is a BIGINT: a string in the envelope
    sql: `SELECT RESULT_ID::text AS "resultId", PAT_MRN AS "mrn", ADM_ID AS "admissionId", ORDER_NO AS "orderNumber", TEST_CD AS "testCode",
                 TEST_NM AS "testName", RESULT_VAL AS "value", UNITS AS "units", REF_RANGE AS "referenceRange", ABN_FLAG AS "abnormalFlag",
                 RESULT_STAT_CD AS "status", ${ts('COLLECT_DT')} AS "collectedDate", ${ts('RESULT_DT')} AS "resultDate", ${ts('LAST_UPD_DT')} AS "lastUpdated"
            FROM LAB_RESULT ORDER BY RESULT_ID`,
  },
  'patient-merges': {
    key: 'mergeId',
    table: 'patient_merge',
    sql: `SELECT MERGE_ID AS "mergeId", SURVIVOR_MRN AS "survivorMrn", MERGED_MRN AS "mergedMrn", ADM_CNT AS "admissionCount", RESULT_CNT AS "resultCount",
                 SEND_FACILITY AS "sendingFacility", CONTROL_ID AS "controlId", ${ts('MERGE_DT')} AS "mergedAt"
            FROM PATIENT_MERGE ORDER BY MERGE_ID`,
  },
};

export const ALL_TOPICS = Object.keys(TOPIC_QUERIES);

type Row = Record<string, unknown>;

export interface PublishOptions {
  /** `source.origin` of the events (`ficus-writeback` for Ficus's own write-back) */
  origin?: string | null;
  /** `source.commitTime`; default: now */
  commitTime?: string | null;
}

export class LegacyCdc {
  private lsn = 0x1000;
  private readonly seen = new Map<string, Map<string, Row>>();
  private readonly queues = new Map<string, Queue<ChangeBatch>>();

  constructor(
    private readonly legacy: pg.Pool,
    private readonly redis: Redis,
    private readonly partitions = 8,
    readonly sourceName = 'legacy-pg',
  ) {}

  /** a position later than every earlier one (PostgreSQL format: commit LSN / index in the transaction) */
  nextPosition(): string {
    this.lsn += 1;
    return `${this.lsn.toString(16).toUpperCase().padStart(16, '0')}/00000000`;
  }

  event(topic: string, op: ChangeOp, key: Row, before: Row | null, after: Row | null, o: PublishOptions = {}, position = this.nextPosition()): ChangeEvent {
    return {
      schemaVersion: 1,
      topic,
      op,
      key,
      before,
      after,
      source: {
        system: 'postgres',
        name: this.sourceName,
        database: 'legacy_his',
        schema: 'public',
        table: TOPIC_QUERIES[topic]?.table ?? topic,
        position,
        txId: null,
        commitTime: o.commitTime === undefined ? new Date().toISOString() : o.commitTime,
        origin: o.origin ?? null,
      },
    };
  }

  private async read(topic: string): Promise<Map<string, Row>> {
    const q = TOPIC_QUERIES[topic]!;
    const { rows } = await this.legacy.query<Row>(q.sql);
    return new Map(rows.map((r) => [keyText({ [q.key]: r[q.key] }), r]));
  }

  /** Every row of every topic, as `snapshot` events. */
  async snapshot(topics = ALL_TOPICS): Promise<number> {
    const events: ChangeEvent[] = [];
    for (const topic of topics) {
      const rows = await this.read(topic);
      this.seen.set(topic, rows);
      const key = TOPIC_QUERIES[topic]!.key;
      for (const row of rows.values()) events.push(this.event(topic, 'snapshot', { [key]: row[key] }, null, row));
    }
    await this.publish(events);
    return events.length;
  }

  /** What changed in the legacy tables since the last snapshot or sync, as create/update/delete events. */
  async sync(topics = ALL_TOPICS, o: PublishOptions = {}): Promise<ChangeEvent[]> {
    const events: ChangeEvent[] = [];
    for (const topic of topics) {
      const before = this.seen.get(topic) ?? new Map<string, Row>();
      const now = await this.read(topic);
      const key = TOPIC_QUERIES[topic]!.key;
      for (const [k, row] of now) {
        const old = before.get(k);
        if (!old) events.push(this.event(topic, 'create', { [key]: row[key] }, null, row, o));
        else if (JSON.stringify(old) !== JSON.stringify(row)) events.push(this.event(topic, 'update', { [key]: row[key] }, old, row, o));
      }
      for (const [k, old] of before) if (!now.has(k)) events.push(this.event(topic, 'delete', { [key]: old[key] }, old, null, o));
      this.seen.set(topic, now);
    }
    await this.publish(events);
    return events;
  }

  /** Publishes events as the CDC reader does: per topic and partition, in order, many per job. */
  async publish(events: ChangeEvent[], perJob = 200): Promise<void> {
    const lanes = new Map<string, ChangeEvent[]>();
    for (const e of events) {
      const name = partitionQueueName(cdcQueuePrefix(e.topic), partitionOf(keyText(e.key), this.partitions));
      lanes.set(name, [...(lanes.get(name) ?? []), e]);
    }
    for (const [name, lane] of lanes) {
      let queue = this.queues.get(name);
      if (!queue) {
        queue = new Queue<ChangeBatch>(name, { connection: this.redis });
        this.queues.set(name, queue);
      }
      const jobs = [];
      for (let i = 0; i < lane.length; i += perJob) jobs.push({ name: 'changes', data: { schemaVersion: 1 as const, events: lane.slice(i, i + perJob) } });
      await queue.addBulk(jobs);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
