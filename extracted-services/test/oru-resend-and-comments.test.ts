/**
 * What a probe on the demo stack found with ORUs applied by results-service (HL7 rule
 * `lab-results` in `new`: the service's queue only, `legacyToo: false`):
 *
 * - a final result sent again (a new control id) after its correction added a second result,
 *   the uncorrected value, listed as the newest troponin; a resent final must change nothing;
 * - FT's line break `\.br\` reached FHIR as written ("Line one\.br\Line two"); the stored value
 *   stays the legacy's representation (the legacy inbound stores the same), FHIR reads lines;
 * - the NTE comments of an observation ("Corrected: decimal place error") were dropped on every
 *   path; they are kept and served as FHIR Observation.note (the legacy API has no such field).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hl7, MllpClient, msh, segment, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';
import { fhirProblems } from '../../test-support/fhir-schema.js';
import { ask, hl7Time, type ServiceScene } from '../../test-support/service-scene.js';
import { startWritebackScene, type WritebackScene } from './support/writeback-scene.js';

let wb: WritebackScene;
let scene: ServiceScene;
let client: MllpClient;
let seeded: string[];

beforeAll(async () => {
  wb = await startWritebackScene({ prefix: 'svc_oru_resend', redis: 'own', services: ['results-service'], patients: 10, seed: 7_741, hl7Inbound: true });
  scene = wb.scene;
  client = await MllpClient.connect(scene.inbound!.port);
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>(`SELECT PAT_MRN FROM PATIENT_MASTER WHERE ACTIVE_FLG = 'Y' ORDER BY PAT_MRN LIMIT 4`);
  seeded = rows.map((r) => r.pat_mrn);
});
afterAll(async () => {
  client?.close();
  await wb?.close();
});

let clock = 0;
/** MSH-7 of the next message: each a minute after the one before, all after now */
const next = () => hl7Time(new Date(Date.now() + ++clock * 60_000));
const oru = (mrn: string, order: string, status: string, ...obx: string[]) =>
  hl7(
    msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { application: 'NEWLAB', facility: 'NORTHLAB', time: next() }),
    segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR` }),
    segment('OBR', { 1: '1', 2: `P${order}`, 3: order, 4: 'PANEL^PANEL^L', 7: '20261207221500', 22: '20261207222900', 25: status }),
    ...obx,
  );
const obx = (n: number, type: string, test: string, value: string, units: string, flag: string, status: string) =>
  segment('OBX', { 1: String(n), 2: type, 3: test, 5: value, 6: units, 8: flag, 11: status });
const nte = (n: number, text: string) => segment('NTE', { 1: String(n), 2: 'L', 3: text });
const troponin = (value: string, flag: string, status: string) => obx(1, 'SN', 'TNI^Troponin I^L', value, 'ng/mL', flag, status);
const chloride = (value: string, status: string) => obx(2, 'NM', 'CL^Chloride^L', value, 'mmol/L', '', status);

/** as the HL7 adapter delivers with the rule in `new`: the service alone, its write-back published and landed in the legacy */
async function toService(message: string): Promise<void> {
  await scene.sendHl7('results-service', message, { legacyToo: false });
  await scene.drain();
  for (const end = Date.now() + 10_000; (await scene.results.pool.query('SELECT 1 FROM ficus_outbox WHERE published_at IS NULL')).rowCount !== 0; ) {
    if (Date.now() > end) throw new Error('the outbox was not published');
    await new Promise((r) => setTimeout(r, 20));
  }
  await scene.drain();
}

type Result = Record<string, unknown> & { resultId: number; orderNumber: string; testCode: string; value: string | null; status: string };
const resultsOf = async (base: string, mrn: string, order: string): Promise<Result[]> =>
  ((JSON.parse((await ask(base, `/api/results?mrn=${mrn}`)).body) as { items?: Result[] }).items ?? []).filter((r) => r.orderNumber === order);
type Observation = Record<string, unknown> & { id: string; identifier: { value: string }[] };
async function observationsOf(mrn: string, order: string): Promise<Observation[]> {
  const bundle = JSON.parse((await ask(scene.results.url, `/fhir/Observation?patient=${mrn}&_count=100`)).body) as { entry?: { resource: Observation }[] };
  // valid R4, notes and multi-line strings included
  expect(fhirProblems(bundle)).toEqual([]);
  return (bundle.entry ?? []).map((e) => e.resource).filter((o) => o.identifier[0]!.value.startsWith(`${order}/`));
}

describe('a final result sent again', () => {
  it('after its correction changes nothing: one troponin, the corrected one, and the message is recorded as stale', async () => {
    const mrn = seeded[0]!;
    await toService(oru(mrn, 'RS0001', 'P', troponin('<^0.04', 'N', 'P'), chloride('101.0', 'P')));
    const final = () => oru(mrn, 'RS0001', 'F', troponin('^1.27', 'HH', 'F'), chloride('100.0', 'F'));
    await toService(final());
    await toService(oru(mrn, 'RS0001', 'C', troponin('^0.127', 'H', 'C'), nte(1, 'Corrected: decimal place error')));
    // the same final message again, under a new control id (and a later MSH-7: the conflict rule alone lets it through)
    const resent = final();
    await toService(resent);

    const results = await resultsOf(scene.results.url, mrn, 'RS0001');
    expect(results.map((r) => [r.testCode, r.value, r.abnormalFlag, r.status]).sort()).toEqual([
      ['CL', '100.0', null, 'F'],
      ['TNI', '0.127', 'H', 'C'],
    ]);
    const controlId = resent.split('\r')[0]!.split('|')[9];
    const { rows } = await scene.results.pool.query<{ outcome: string | null }>('SELECT outcome FROM ficus_hl7_applied WHERE control_id = $1', [controlId]);
    expect(rows).toEqual([{ outcome: 'stale' }]);
    const [tni] = (await observationsOf(mrn, 'RS0001')).filter((o) => o.identifier[0]!.value === 'RS0001/TNI');
    expect(tni).toMatchObject({ status: 'corrected', valueQuantity: { value: 0.127 } });
    // nor did the write-back give the legacy a second troponin
    const legacy = await resultsOf(scene.legacy.base, mrn, 'RS0001');
    expect(legacy.map((r) => [r.resultId, r.value, r.status]).sort()).toEqual(results.map((r) => [r.resultId, r.value, r.status]).sort());
  });

  it('of a culture of two organisms matches both; a third organism is still a new result', async () => {
    const mrn = seeded[1]!;
    const organism = (n: number, name: string) => obx(n, 'ST', 'CULT^Blood culture^L', name, '', 'A', 'F');
    await toService(oru(mrn, 'RS0002', 'F', organism(1, 'ESCHERICHIA COLI'), organism(2, 'KLEBSIELLA')));
    await toService(oru(mrn, 'RS0002', 'F', organism(1, 'ESCHERICHIA COLI'), organism(2, 'KLEBSIELLA')));
    expect((await resultsOf(scene.results.url, mrn, 'RS0002')).map((r) => r.value).sort()).toEqual(['ESCHERICHIA COLI', 'KLEBSIELLA']);
    await toService(oru(mrn, 'RS0002', 'F', organism(1, 'ESCHERICHIA COLI'), organism(2, 'KLEBSIELLA'), organism(3, 'ENTEROCOCCUS')));
    expect((await resultsOf(scene.results.url, mrn, 'RS0002')).map((r) => r.value).sort()).toEqual(['ENTEROCOCCUS', 'ESCHERICHIA COLI', 'KLEBSIELLA']);
  });
});

describe('formatted text (FT) and the laboratory comments (NTE)', () => {
  it('stores the value as the legacy inbound does (\\.br\\ as written, highlighting dropped); FHIR reads line breaks', async () => {
    const mrn = seeded[2]!;
    const report = (order: string) =>
      oru(
        mrn,
        order,
        'F',
        obx(1, 'FT', 'REP^Report^L', 'Line one\\.br\\Line two\\.br\\\\H\\Bold\\N\\ done', '', '', 'F'),
        obx(2, 'ST', 'ADV^Advice^L', 'See note\\.br\\called ward', '', '', 'F'),
      );
    await toService(report('RS0003'));
    // the same report to the legacy inbound itself, under another order: what the legacy stores of it
    expect((await client.request(report('RS0003L'))).code).toBe('AA');
    const values = (rs: Result[]) => rs.map((r) => [r.testCode, r.value]).sort();
    const service = await resultsOf(scene.results.url, mrn, 'RS0003');
    expect(values(service)).toEqual([
      ['ADV', 'See note\\.br\\called ward'],
      ['REP', 'Line one\\.br\\Line two\\.br\\Bold done'],
    ]);
    // the two sides compare alike (parity, reconcile): the legacy's own representation, written back as it is, the same fields
    expect(values(await resultsOf(scene.legacy.base, mrn, 'RS0003L'))).toEqual(values(service));
    const writtenBack = await resultsOf(scene.legacy.base, mrn, 'RS0003');
    expect(values(writtenBack)).toEqual(values(service));
    expect(Object.keys(service[0]!)).toEqual(Object.keys(writtenBack[0]!));
    const fhir = Object.fromEntries((await observationsOf(mrn, 'RS0003')).map((o) => [o.identifier[0]!.value, o.valueString]));
    expect(fhir).toEqual({ 'RS0003/REP': 'Line one\nLine two\nBold done', 'RS0003/ADV': 'See note\ncalled ward' });
  });

  it('keeps the NTEs of each observation as FHIR notes: a correction its own, a U (nothing retransmitted) the preliminary one', async () => {
    const mrn = seeded[3]!;
    await toService(
      oru(
        mrn,
        'RS0004',
        'P',
        obx(1, 'NM', 'K^Potassium^L', '6.2', 'mmol/L', 'H', 'P'),
        nte(1, 'Specimen slightly hemolysed \\T\\ lipemic'),
        nte(2, 'Repeat advised~on a fresh sample'),
        obx(2, 'NM', 'NA^Sodium^L', '139', 'mmol/L', '', 'P'),
        obx(3, 'NM', 'GLU^Glucose^L', '9.1', 'mmol/L', 'H', 'P'),
        nte(1, 'Non-fasting\\.br\\per ward'),
      ),
    );
    await toService(oru(mrn, 'RS0004', 'F', obx(1, 'NM', 'K^Potassium^L', '', '', '', 'U'), obx(2, 'NM', 'GLU^Glucose^L', '5.4', 'mmol/L', '', 'C'), nte(1, 'Corrected: wrong sample')));
    const notes = Object.fromEntries((await observationsOf(mrn, 'RS0004')).map((o) => [o.identifier[0]!.value, o.note]));
    expect(notes).toEqual({
      'RS0004/K': [{ text: 'Specimen slightly hemolysed & lipemic' }, { text: 'Repeat advised\non a fresh sample' }],
      'RS0004/NA': undefined,
      'RS0004/GLU': [{ text: 'Corrected: wrong sample' }],
    });
    // the glucose's preliminary version keeps its comment
    const { rows } = await scene.results.pool.query(
      `SELECT v.value, v.comments FROM lab_result_version v JOIN lab_result r ON r.id = v.result_id WHERE r.order_number = 'RS0004' AND r.test_code = 'GLU'`,
    );
    expect(rows).toEqual([{ value: '9.1', comments: ['Non-fasting\nper ward'] }]);
    // the legacy-shaped API stays the legacy's: no comment field
    expect(Object.keys((await resultsOf(scene.results.url, mrn, 'RS0004'))[0]!)).not.toContain('comments');
  });
});
