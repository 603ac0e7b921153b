/**
 * One entity's reconciliation (patients, encounters, results), fed record pair by record
 * pair: counts on each side, what is only on one side, what differs and in which fields, an
 * order-independent checksum per side, and a few sample differences. Samples are the first
 * `sample` in record order (MRN, then id), not in the order answers came back, so that two
 * runs over the same data show the same samples.
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

  constructor(
    readonly entity: string,
    private readonly ignore: IgnoreSpec,
    private readonly sampleLimit: number,
  ) {}

  /** One record as each side has it (undefined: that side does not have it). */
  add(key: RecordKey, legacyRecord: Json | undefined, serviceRecord: Json | undefined): void {
    const a = legacyRecord === undefined ? undefined : withoutIgnored(legacyRecord, this.ignore);
    const b = serviceRecord === undefined ? undefined : withoutIgnored(serviceRecord, this.ignore);
    const ha = a === undefined ? undefined : recordHash(a);
    const hb = b === undefined ? undefined : recordHash(b);
    if (ha) this.legacy.add(ha);
    if (hb) this.service.add(hb);
    if (a === undefined && b === undefined) return;
    if (b === undefined) {
      this.onlyInLegacy++;
      this.keep({ kind: 'missing-in-service', key, fields: [], values: [] });
    } else if (a === undefined) {
      this.onlyInService++;
      this.keep({ kind: 'missing-in-legacy', key, fields: [], values: [] });
    } else if (ha === hb) {
      this.identical++;
    } else {
      this.differing++;
      const values = fieldDifferences(a, b);
      const fields = values.map((v) => v.path || '(record)');
      for (const f of fields) this.fieldCounts.set(f, (this.fieldCounts.get(f) ?? 0) + 1);
      this.keep({ kind: 'differs', key, fields, values });
    }
  }

  /** Every record of one patient on each side, matched by `idField`. */
  addAll(mrn: string, idField: string, legacyRecords: readonly Json[], serviceRecords: readonly Json[]): void {
    const byId = (records: readonly Json[]) => new Map(records.map((r) => [String((r as Record<string, Json>)[idField]), r]));
    const a = byId(legacyRecords);
    const b = byId(serviceRecords);
    for (const id of new Set([...a.keys(), ...b.keys()])) this.add({ mrn, id }, a.get(id), b.get(id));
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
