/**
 * The report, for people (tables and lines) and for scripts (one JSON object). Without
 * --show-phi neither shows an MRN, a row id or a value: a record is named by stable hashes
 * (pseudonym.ts) and a difference by its field paths. With --show-phi the MRNs, ids and the
 * differing values are printed as well.
 */
import { table } from '../output.js';
import type { Json } from './canonical.js';
import type { Pseudonymise } from './pseudonym.js';
import type { ReconcileReport } from './run.js';
import type { RecordKey, Sample } from './tally.js';

export interface RenderOptions {
  showPhi: boolean;
  pseudonym: Pseudonymise;
  /** the ignored field paths, as given */
  ignored: string[];
}

/** what the id of a record is called, per entity */
const ID_NAME: Record<string, string> = { encounters: 'admission', results: 'result' };

interface JsonRef {
  mrnHash: string;
  mrn?: string;
  idHash?: string;
  id?: string;
}

function ref(key: RecordKey, o: RenderOptions): JsonRef {
  const r: JsonRef = { mrnHash: o.pseudonym('mrn', key.mrn) };
  if (o.showPhi) r.mrn = key.mrn;
  if (key.id !== undefined) {
    r.idHash = o.pseudonym('id', key.id);
    if (o.showPhi) r.id = key.id;
  }
  return r;
}

function refText(entity: string, key: RecordKey, o: RenderOptions): string {
  const r = ref(key, o);
  const patient = `patient ${r.mrn ?? r.mrnHash}`;
  return key.id === undefined ? patient : `${patient} ${ID_NAME[entity] ?? 'record'} ${r.id ?? r.idHash}`;
}

function sampleJson(s: Sample, o: RenderOptions) {
  const values = o.showPhi && s.kind === 'differs' ? { values: s.values.map((v) => ({ path: v.path, legacy: v.legacy ?? null, service: v.service ?? null, ...(v.legacy === undefined ? { absentInLegacy: true } : {}), ...(v.service === undefined ? { absentInService: true } : {}) })) } : {};
  return { kind: s.kind, ref: ref(s.key, o), fields: s.fields, ...values };
}

/** The report as one JSON object (what --json prints). */
export function reportJson(r: ReconcileReport, o: RenderOptions) {
  return {
    reconcile: r.kind,
    legacy: r.legacyUrl,
    service: r.serviceUrl,
    patientsCompared: r.patients,
    refusedByMrn: r.refused,
    ignored: o.ignored,
    showPhi: o.showPhi,
    clean: r.clean,
    entities: r.entities.map((e) => ({ ...e, samples: e.samples.map((s) => sampleJson(s, o)) })),
  };
}

/** the longest kind, missing-in-service */
const KIND_WIDTH = 18;

const valueText = (v: Json | undefined) => (v === undefined ? '(absent)' : JSON.stringify(v));

/** The report for a terminal. */
export function reportText(r: ReconcileReport, o: RenderOptions): string[] {
  const width = Math.max(...r.entities.map((e) => e.entity.length));
  const lines = [
    `reconcile ${r.kind}: legacy ${r.legacyUrl} vs service ${r.serviceUrl}`,
    `${r.patients} patient${r.patients === 1 ? '' : 's'} compared${o.ignored.length ? `; ignoring ${o.ignored.join(', ')}` : ''}`,
    '',
    table(
      ['entity', 'legacy', 'service', 'only in legacy', 'only in service', 'differing', 'identical', 'checksums'],
      r.entities.map((e) => [e.entity, e.legacy.count, e.service.count, e.onlyInLegacy, e.onlyInService, e.differing, e.identical, e.checksumsMatch ? 'match' : 'differ']),
    ),
    '',
    'checksums (SHA-256 over the sorted record hashes):',
    ...r.entities.flatMap((e) => [`  ${e.entity.padEnd(width)}  legacy   ${e.legacy.checksum}`, `  ${e.entity.padEnd(width)}  service  ${e.service.checksum}`]),
  ];
  for (const e of r.entities) {
    const fields = Object.entries(e.differingFields);
    if (fields.length) lines.push('', `${e.entity}: differing fields: ${fields.map(([f, n]) => `${f} (${n})`).join(', ')}`);
    if (e.samples.length === 0) continue;
    const total = e.onlyInLegacy + e.onlyInService + e.differing;
    lines.push('', `${e.entity}: ${e.samples.length === total ? `${total} difference${total === 1 ? '' : 's'}` : `first ${e.samples.length} of ${total} differences`}`);
    for (const s of e.samples) {
      lines.push(`  ${s.kind.padEnd(KIND_WIDTH)}  ${refText(e.entity, s.key, o)}${s.fields.length ? `  ${s.fields.join(', ')}` : ''}`);
      if (o.showPhi) for (const v of s.values) lines.push(`      ${v.path || '(record)'}: legacy ${valueText(v.legacy)}, service ${valueText(v.service)}`);
    }
  }
  if (r.refused.legacy + r.refused.service > 0) lines.push('', `not compared: patients refused by their MRN (400): legacy ${r.refused.legacy}, service ${r.refused.service}`);
  lines.push('', r.clean ? 'clean: both sides hold the same records' : `differences found (exit 3)${o.showPhi ? '' : '; --show-phi prints MRNs, ids and values'}`);
  return lines;
}
