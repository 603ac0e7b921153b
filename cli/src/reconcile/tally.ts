/**
 * One entity's reconciliation (patients, encounters, results), fed record pair by record
 * pair: counts on each side, what is only on one side, what differs and in which fields, an
 * order-independent checksum per side, and a few sample differences. Samples are the first
 * `sample` in record order (MRN, then id), not in the order answers came back, so that two
 * runs over the same data show the same samples.
 *
 * Stays and results have ids of their own, across patients: one that a patient holds on one
 * side and another patient on the other (a merge that moved it on one side only: the
 * merged-away patient still holding it there) is one record that differs in `mrn`, not a record
 * missing on each side.
 */
import { recordHash, withoutIgnored, type IgnoreSpec, type Json } from './canonical.js';
import { SideChecksum } from './checksum.js';
import { fieldDifferences, type FieldDifference } from './diff.js';

export type DifferenceKind = 'missing-in-service' | 'missing-in-legacy' | 'differs';

/** Which record: the patient's MRN and, for a stay or a result, its id. Internal: PHI. */
export interface RecordKey {
  mrn: string;
  id?: string;
}

export interface Sample {
  kind: DifferenceKind;
  key: RecordKey;
  /** the differing field paths ([] for a record on one side only) */
  fields: string[];
  /** the differing values; the renderer shows them only with --show-phi */
  values: FieldDifference[];
}

export interface EntityFigures {
  entity: string;
  legacy: { count: number; checksum: string };
  service: { count: number; checksum: string };
  checksumsMatch: boolean;
  onlyInLegacy: number;
  onlyInService: number;
  differing: number;
  identical: number;
  /** how many differing records each field path differs in */
  differingFields: Record<string, number>;
  samples: Sample[];
}

/** one-sided records held per side for pairing across patients: beyond, a divergence that large (a side not fed at all) is told record by record as missing */
const MAX_HELD_ONE_SIDED = 100_000;

interface Counted {
  /** without the ignored fields */
  record: Json;
  hash: string;
}

interface OneSided extends Counted {
  key: RecordKey;
}

// MRNs are digits of varying length and ids numbers: pad both so text order is numeric order
const orderOf = (k: RecordKey) => `${k.mrn.padStart(20, '0')}\u0000${(k.id ?? '').padStart(20, '0')}`;

export class EntityTally {
  private readonly legacy = new SideChecksum();
  private readonly service = new SideChecksum();
  private onlyInLegacy = 0;
  private onlyInService = 0;
  private differing = 0;
  private identical = 0;
  private readonly fieldCounts = new Map<string, number>();
  private readonly samples: { order: string; sample: Sample }[] = [];
  /** records of `addAll` found on one side only so far, by id: settled once every patient is in */
  private readonly oneSided = { legacy: new Map<string, OneSided>(), service: new Map<string, OneSided>() };

  constructor(
    readonly entity: string,
    private readonly ignore: IgnoreSpec,
    private readonly sampleLimit: number,
  ) {}

  /** One record as each side has it (undefined: that side does not have it). */
  add(key: RecordKey, legacyRecord: Json | undefined, serviceRecord: Json | undefined): void {
    const a = legacyRecord === undefined ? undefined : this.counted(this.legacy, legacyRecord);
    const b = serviceRecord === undefined ? undefined : this.counted(this.service, serviceRecord);
    this.compare(key, a, b);
  }

  /** the record without its ignored fields, and its hash, counted in its side's checksum */
  private counted(side: SideChecksum, record: Json): Counted {
    const r = withoutIgnored(record, this.ignore);
    const hash = recordHash(r);
    side.add(hash);
    return { record: r, hash };
  }

  private compare(key: RecordKey, x: Counted | undefined, y: Counted | undefined): void {
    const a = x?.record;
    const b = y?.record;
    if (a === undefined && b === undefined) return;
    if (b === undefined) {
      this.onlyInLegacy++;
      this.keep({ kind: 'missing-in-service', key, fields: [], values: [] });
    } else if (a === undefined) {
      this.onlyInService++;
      this.keep({ kind: 'missing-in-legacy', key, fields: [], values: [] });
    } else if (x!.hash === y!.hash) {
      this.identical++;
    } else {
      this.differing++;
      const values = fieldDifferences(a, b);
      const fields = values.map((v) => v.path || '(record)');
      for (const f of fields) this.fieldCounts.set(f, (this.fieldCounts.get(f) ?? 0) + 1);
      this.keep({ kind: 'differs', key, fields, values });
    }
  }

  /** Every record of one patient on each side, matched by `idField`; one on one side only waits for the other side's under another patient. */
  addAll(mrn: string, idField: string, legacyRecords: readonly Json[], serviceRecords: readonly Json[]): void {
    const byId = (records: readonly Json[]) => new Map(records.map((r) => [String((r as Record<string, Json>)[idField]), r]));
    const a = byId(legacyRecords);
    const b = byId(serviceRecords);
    for (const id of new Set([...a.keys(), ...b.keys()])) {
      const x = a.has(id) ? this.counted(this.legacy, a.get(id)!) : undefined;
      const y = b.has(id) ? this.counted(this.service, b.get(id)!) : undefined;
      if (x && y) this.compare({ mrn, id }, x, y);
      else if (x) this.hold(this.oneSided.legacy, { key: { mrn, id }, ...x }, (o) => this.compare(o.key, o, undefined));
      else if (y) this.hold(this.oneSided.service, { key: { mrn, id }, ...y }, (o) => this.compare(o.key, undefined, o));
    }
  }

  /** holds a one-sided record to be paired later; past the limit (memory), or an id seen twice on one side, it is settled at once */
  private hold(held: Map<string, OneSided>, o: OneSided, settle: (o: OneSided) => void): void {
    const id = o.key.id!;
    if (held.has(id) || held.size >= MAX_HELD_ONE_SIDED) return settle(o);
    held.set(id, o);
  }

  /** the records seen on one side only: the same id under two patients is one record (named by the legacy's patient) */
  private settle(): void {
    const { legacy, service } = this.oneSided;
    for (const [id, x] of legacy) {
      const y = service.get(id);
      service.delete(id);
      this.compare(x.key, x, y);
    }
    for (const y of service.values()) this.compare(y.key, undefined, y);
    legacy.clear();
    service.clear();
  }

  private keep(sample: Sample): void {
    if (this.sampleLimit === 0) return;
    const order = orderOf(sample.key);
    const at = this.samples.findIndex((s) => s.order > order);
    if (at === -1) {
      if (this.samples.length < this.sampleLimit) this.samples.push({ order, sample });
      return;
    }
    this.samples.splice(at, 0, { order, sample });
    if (this.samples.length > this.sampleLimit) this.samples.pop();
  }

  figures(): EntityFigures {
    this.settle();
    const legacy = { count: this.legacy.count, checksum: this.legacy.digest() };
    const service = { count: this.service.count, checksum: this.service.digest() };
    const differingFields = Object.fromEntries([...this.fieldCounts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)));
    return {
      entity: this.entity,
      legacy,
      service,
      checksumsMatch: legacy.checksum === service.checksum,
      onlyInLegacy: this.onlyInLegacy,
      onlyInService: this.onlyInService,
      differing: this.differing,
      identical: this.identical,
      differingFields,
      samples: this.samples.map((s) => s.sample),
    };
  }
}
