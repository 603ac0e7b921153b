/**
 * The legacy writer's jobs held in place (job ids are unique per queue), one mechanism for what
 * holds them: a job waits for something until a deadline, then gives up on it. Today that is
 *
 * - `goneRows`: CDC to read past the legacy's WAL position where updated rows were seen missing
 *   (gone-rows.ts), up to CDC_WRITEBACK_GONE_WAIT_MS;
 * - `parent`: a parent row a foreign key refused a row of the job for, up to
 *   CDC_WRITEBACK_FK_WAIT_MS.
 *
 * Each wait has its own clock, from the round the job first met it: a job held for a gone row
 * that then meets a foreign key gets its whole wait for the parent (one shared clock once
 * dead-lettered that refusal at once). A held job also keeps what it wrote in its rounds
 * (committed: a retry skips it by position), counted as applied once when it is done.
 */
import type { ChangeEvent } from '@ficus/contracts';

/** What each wait knows besides its clock: the status shows it (topics, a count and schema names, never keys). */
export interface WaitDetails {
  goneRows: {
    /** the legacy's WAL position when the rows were seen missing */
    lsn: string;
    /** the updates still waiting */
    topics: string[];
    rows: number;
  };
  parent: {
    /** the rows the foreign keys refused at the last try */
    topics: string[];
    rows: number;
    /** the foreign keys that refused them: schema names only (the key values are the patient's) */
    foreignKeys: ParentKey[];
  };
}

/** A legacy foreign key that refused a row: the row's table, the constraint and the parent table it wants. */
export interface ParentKey {
  table: string;
  constraint: string;
  /** null when the legacy did not say (an error without the constraint, the catalogue not answering) */
  parentTable: string | null;
}

export type WaitFor = keyof WaitDetails;
export type Wait<W extends WaitFor> = WaitDetails[W] & { since: number; until: number };

export interface HeldJob {
  service: string;
  partition: number;
  /** written in the rounds it was held */
  applied: ChangeEvent[];
  waits: { [W in WaitFor]?: Wait<W> };
}

export class HeldJobs {
  private readonly jobs = new Map<string, HeldJob>();

  private job(key: string, service: string, partition: number): HeldJob {
    let job = this.jobs.get(key);
    if (!job) this.jobs.set(key, (job = { service, partition, applied: [], waits: {} }));
    return job;
  }

  /** The job's wait for `what`, if it has one. */
  waiting<W extends WaitFor>(key: string, what: W): Wait<W> | undefined {
    return this.jobs.get(key)?.waits[what] as Wait<W> | undefined;
  }

  /** Starts the job's wait for `what` now, for `ms`. */
  begin<W extends WaitFor>(key: string, service: string, partition: number, what: W, ms: number, detail: WaitDetails[W]): Wait<W> {
    const since = Date.now();
    const wait = { ...detail, since, until: since + ms } as Wait<W>;
    (this.job(key, service, partition).waits as Record<W, Wait<W>>)[what] = wait;
    return wait;
  }

  /** What the job's wait for `what` knows now (fewer rows once some came), its clock unchanged. */
  update<W extends WaitFor>(key: string, what: W, detail: WaitDetails[W]): void {
    const wait = this.waiting(key, what);
    if (wait) Object.assign(wait, detail);
  }

  /** Whether the job's wait for `what` is over (false when it has none). */
  over(key: string, what: WaitFor): boolean {
    const wait = this.waiting(key, what);
    return wait !== undefined && Date.now() >= wait.until;
  }

  /** The job no longer waits for `what` (what it wrote stays with it). */
  end(key: string, what: WaitFor): void {
    const job = this.jobs.get(key);
    if (job) delete job.waits[what];
  }

  /** What a job about to be held again wrote in this round. */
  wrote(key: string, service: string, partition: number, applied: readonly ChangeEvent[]): void {
    this.job(key, service, partition).applied.push(...applied);
  }

  /** The job is done (or given up on): forgotten, answering what it wrote while held. */
  done(key: string): ChangeEvent[] {
    const applied = this.jobs.get(key)?.applied ?? [];
    this.jobs.delete(key);
    return applied;
  }

  /** The waits for `what` of `service`'s jobs, by partition. */
  all<W extends WaitFor>(service: string, what: W): (Wait<W> & { partition: number })[] {
    return [...this.jobs.values()]
      .filter((j) => j.service === service && j.waits[what])
      .sort((a, b) => a.partition - b.partition)
      .map((j) => ({ ...(j.waits[what] as Wait<W>), partition: j.partition }));
  }
}
