/**
 * The rule store: every version of the rule set, in PostgreSQL. A change names the version it
 * starts from; if another change got there first, it is refused as stale (optimistic
 * concurrency) and nothing is written.
 */
import type pg from 'pg';
import type { RuleSet } from '../rules/model.js';
import { rollback, withTransaction } from '../postgres/transaction.js';

export type ChangeKind = 'seed' | 'flip' | 'apply' | 'import' | 'rollback';

/** A rule's parity gate before and after a change that removed (`to` absent) or loosened it. */
export interface WeakenedGate {
  rule: string;
  from: { threshold: number; minCompared: number; minKeys?: number; window: string; gateAbovePercent?: number };
  to?: { threshold: number; minCompared: number; minKeys?: number; window: string; gateAbovePercent?: number };
  /** in words: "removed", "threshold 0.99 → 0.9" */
  what: string;
}

/** What a version changed, in a form people and the dashboard can read. */
/** A parity gate's figures when a change went through it (or was refused by it). */
export interface GateFigures {
  rule: string;
  /** what the change does: "to new", "canary 20 % > 10 %" */
  move: string;
  parity: number | null;
  compared: number;
  mismatches: number;
  /**
   * distinct keys compared against the move's target in the window, those that differed, and
   * their parity (versions stored before keys were counted have none: read them as possibly absent)
   */
  keys: number;
  mismatchedKeys: number;
  keyParity: number | null;
  threshold: number;
  minCompared: number;
  minKeys: number;
  window: string;
  open: boolean;
  /** the upstream the move sends traffic to, when only some minutes of the window compared against it */
  target?: string;
  /** those minutes (the others compared against another target, or had just changed target): only their comparisons count */
  countedMinutes?: number;
}

export interface ChangeRecord {
  kind: ChangeKind;
  summary: string;
  rule?: string;
  from?: unknown;
  to?: unknown;
  rollbackTo?: number;
  /** the parity gates the change went through (figures at the time) */
  gates?: GateFigures[];
  /** an admin went past a closed gate */
  forced?: boolean;
  /** parity gates the change removed or loosened (an admin's decision) */
  weakenedGates?: WeakenedGate[];
  /** routing serving before that the change dropped (a section emptied, the catch-all): an admin allowed it */
  removedRouting?: string[];
  /** parity gates an operator's rollback kept as they were, where the version's would have loosened them */
  keptGates?: WeakenedGate[];
  /** an import of files exported from this version (its header says so), applied over a later one on purpose */
  exportedFrom?: number;
}

export interface VersionInfo {
  version: number;
  author: string;
  reason: string;
  change: ChangeRecord;
  createdAt: string;
}

export interface RuleVersion extends VersionInfo {
  ruleSet: RuleSet;
}

export class StaleVersionError extends Error {
  /** the version that got there first, when known */
  winner?: VersionInfo;
  /** the versions made since `base`, oldest first (the latest ones when there are many) */
  since?: VersionInfo[];
  /** the rules whose definition differs between `base` and the current version */
  rulesChanged?: string[];

  constructor(
    readonly base: number,
    readonly current: number,
  ) {
    super(`the change starts from version ${base}, but the current version is ${current}`);
  }
}

interface Row {
  version: string;
  rule_set?: RuleSet;
  author: string;
  reason: string;
  change: ChangeRecord;
  created_at: Date;
}

function toVersion(row: Row): RuleVersion {
  return {
    version: Number(row.version),
    ruleSet: row.rule_set as RuleSet,
    author: row.author,
    reason: row.reason,
    change: row.change,
    createdAt: row.created_at.toISOString(),
  };
}

const UNIQUE_VIOLATION = '23505';

export class RuleStore {
  constructor(private readonly pool: pg.Pool) {}

  async currentVersion(): Promise<number> {
    const { rows } = await this.pool.query<{ v: string | null }>('SELECT max(version) AS v FROM rule_versions');
    return Number(rows[0]?.v ?? 0);
  }

  async current(): Promise<RuleVersion | undefined> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM rule_versions ORDER BY version DESC LIMIT 1');
    return rows[0] ? toVersion(rows[0]) : undefined;
  }

  async get(version: number): Promise<RuleVersion | undefined> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM rule_versions WHERE version = $1', [version]);
    return rows[0] ? toVersion(rows[0]) : undefined;
  }

  /** Newest first, without the rule sets. */
  async list(limit = 50, before?: number): Promise<VersionInfo[]> {
    const { rows } = await this.pool.query<Row>(
      `SELECT version, author, reason, change, created_at FROM rule_versions
        WHERE ($2::bigint IS NULL OR version < $2) ORDER BY version DESC LIMIT $1`,
      [limit, before ?? null],
    );
    return rows.map((r) => {
      const { ruleSet: _omit, ...info } = toVersion(r);
      return info;
    });
  }

  /** Every version in force at some time since `at`, newest first, with its rule set. */
  async inForceSince(at: Date): Promise<RuleVersion[]> {
    const { rows } = await this.pool.query<Row>(
      `SELECT * FROM rule_versions
        WHERE version >= coalesce((SELECT max(version) FROM rule_versions WHERE created_at <= $1), 0) ORDER BY version DESC`,
      [at],
    );
    return rows.map(toVersion);
  }

  /**
   * Stores a new version on top of `base`; throws StaleVersionError when `base` is not
   * current. `alsoInTransaction` runs in the same transaction (the audit entry of the change:
   * a version never exists without its record).
   */
  async commit(
    base: number,
    ruleSet: RuleSet,
    author: string,
    reason: string,
    change: ChangeRecord,
    alsoInTransaction?: (client: pg.PoolClient, version: RuleVersion) => Promise<void>,
  ): Promise<RuleVersion> {
    let committed: RuleVersion | undefined;
    try {
      committed = await withTransaction(this.pool, async (client) => {
        const { rows } = await client.query<Row>(
          `INSERT INTO rule_versions (version, rule_set, author, reason, change)
           SELECT $1::bigint + 1, $2, $3, $4, $5
            WHERE (SELECT coalesce(max(version), 0) FROM rule_versions) = $1
           RETURNING *`,
          [base, JSON.stringify(ruleSet), author, reason, JSON.stringify(change)],
        );
        if (!rows[0]) return rollback(undefined);
        const version = toVersion(rows[0]);
        await alsoInTransaction?.(client, version);
        return version;
      });
    } catch (e) {
      // two changes from the same base at the same moment: the second one loses here
      if ((e as { code?: string }).code !== UNIQUE_VIOLATION) throw e;
    }
    if (committed) return committed;
    throw new StaleVersionError(base, await this.currentVersion());
  }

  /** The first version, from the rule files, when the store is empty. */
  async seedIfEmpty(ruleSet: RuleSet, author: string, reason: string): Promise<RuleVersion | undefined> {
    try {
      return await this.commit(0, ruleSet, author, reason, { kind: 'seed', summary: `${ruleSet.http.length} HTTP rules, ${ruleSet.hl7?.length ?? 0} HL7 rules, ${Object.keys(ruleSet.upstreams).length} upstreams` });
    } catch (e) {
      if (e instanceof StaleVersionError) return undefined;
      throw e;
    }
  }
}
