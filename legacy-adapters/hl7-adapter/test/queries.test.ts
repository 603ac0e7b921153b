/**
 * Queries through the adapter, over real MLLP connections to the legacy stand-in's inbound on a
 * migrated legacy database: a QRY^A19 is passed to legacy while the sender waits and the
 * sender gets legacy's ADR^A19 with the patient (not an ACK that says "accepted" and no data);
 * nothing is stored or delivered later; a query legacy does not know gets legacy's own AR; a
 * query a rule sends to a new service is refused (AR 200, why in ERR); a birth date BC or after
 * 9999 is left out of PID-7 with a warning ERR (no HL7 date holds it); a query in a batch is
 * answered in its place among the batch's ACKs; legacy away gives AE with ERR 207, and the same
 * query is answered once legacy is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startAdapterUnderTest, type AdapterUnderTest } from './support/adapter-harness.js';
import { startLegacyInbound, type LegacyInbound } from './support/legacy-inbound.js';
import { MllpTestClient } from './support/mllp-test-client.js';

const MRN = '8300001';
const seg = (...s: string[]) => s.join('\r') + '\r';
const msh = (type: string, controlId: string, version = '2.3') => `MSH|^~\\&|WARDAPP|GENHOSP|HIS|GENHOSP|20261206090000||${type}|${controlId}|P|${version}`;
const patientQuery = (controlId: string, mrn: string) => seg(msh('QRY^A19', controlId), `QRD|20261206090000|R|I|${controlId}|||1^RD|${mrn}|DEM|||`);

let legacy: LegacyInbound;
let a: AdapterUnderTest;
let client: MllpTestClient;

beforeAll(async () => {
  legacy = await startLegacyInbound('query_legacy');
  // the patient, registered at the legacy inbound directly
  const direct = await MllpTestClient.open(legacy.port);
  const registered = await direct.send(
    seg(msh('ADT^A04^ADT_A01', 'Q-REG-1', '2.5'), 'EVN|A04|20261206085900', `PID|1||${MRN}^^^GENHOSP^MR||QUERYTEST^ANNA^B||19750312|F|||1 TEST ST^^SPRINGFIELD^IL^62701`),
  );
  expect(registered.get('MSA-1')).toBe('AA');
  direct.close();
  a = await startAdapterUnderTest({
    files: {
      '00-upstreams.yaml': `upstreams:\n  legacy: { url: "http://127.0.0.1:9" }\n  legacy-hl7: { url: "${legacy.url}" }\n  patient-service: { url: "http://127.0.0.1:9" }\n`,
      '10-http.yaml': 'http:\n  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n',
      '20-hl7.yaml': `hl7:
  - id: vaccination-queries
    match: { messageTypes: [VXQ] }
    mode: new
    target: patient-service
  - id: hl7-default
    match: {}
    mode: legacy
`,
    },
  });
  client = await MllpTestClient.open(a.adapter.port);
});
afterAll(async () => {
  client?.close();
  await a?.close();
  await legacy?.close();
});

const stored = async (controlId: string) => (await api<{ messages: unknown[] }>(a.apiUrl, 'GET', `/api/hl7/messages?controlId=${controlId}`)).body.messages.length;

describe('HL7 queries', () => {
  it('passes QRY^A19 to legacy and gives the sender its ADR^A19 with the patient; nothing is stored', async () => {
    const answer = await client.send(patientQuery('Q-1', MRN));
    expect(answer.get('MSH-9.1')).toBe('ADR');
    expect(answer.get('MSH-9.2')).toBe('A19');
    expect(answer.get('MSA-1')).toBe('AA');
    expect(answer.get('MSA-2')).toBe('Q-1');
    expect(answer.get('QRD-8')).toBe(MRN);
    expect(answer.get('PID-3.1')).toBe(MRN);
    expect(answer.get('PID-5.1')).toBe('QUERYTEST');
    expect(answer.get('PID-5.2')).toBe('ANNA');
    expect(answer.get('PID-7')).toBe('19750312');
    expect(answer.get('PID-8')).toBe('F');
    expect(await stored('Q-1')).toBe(0);
    const metrics = await (await fetch(`${a.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/ficus_hl7_messages_total\{direction="inbound",type="QRY",trigger="A19",outcome="query-answered"\} 1/);
    // the answer is counted with the ACKs, as in /api/hl7/stats
    expect(metrics).toMatch(/ficus_hl7_acks_total\{code="AA"\} [1-9]/);
  });

  it('gives legacy\'s "no data" answer for a patient it does not know', async () => {
    const answer = await client.send(patientQuery('Q-2', '8399999'));
    expect(answer.get('MSH-9.1')).toBe('ADR');
    expect(answer.get('MSA-1')).toBe('AA');
    expect(answer.get('MSA-2')).toBe('Q-2');
    expect(answer.count('PID')).toBe(0);
  });

  it("passes on legacy's refusal of a query it does not support", async () => {
    const answer = await client.send(seg(msh('QBP^Q22^QBP_Q21', 'Q-3', '2.5'), 'QPD|IHE PDQ Query^IHE PDQ Query^IHE-PDQ|Q-3|@PID.5.1^QUERYTEST', 'RCP|I'));
    expect(answer.get('MSH-9.1')).toBe('ACK');
    expect(answer.get('MSA-1')).toBe('AR');
    expect(answer.get('MSA-2')).toBe('Q-3');
    expect(answer.get('ERR-3.1')).toBe('200');
    expect(await stored('Q-3')).toBe(0);
  });

  it('refuses a query that a rule sends to a new service: only legacy answers queries', async () => {
    const answer = await client.send(seg(msh('VXQ^V01', 'Q-4'), `QRD|20261206090000|R|I|Q-4|||1^RD|${MRN}|VXI|||`));
    expect(answer.get('MSA-1')).toBe('AR');
    expect(answer.get('MSA-2')).toBe('Q-4');
    expect(answer.get('ERR-1.4.1')).toBe('200');
    expect(answer.get('ERR-1.4.2')).toBe('Unsupported message type');
  });

  it('answers a query inside a batch in its place among the batch\'s ACKs', async () => {
    const batch = seg(
      'FHS|^~\\&|WARDAPP|GENHOSP|HIS|GENHOSP|20261206090000',
      'BHS|^~\\&|WARDAPP|GENHOSP|HIS|GENHOSP|20261206090000',
      msh('ADT^A08^ADT_A01', 'QB-1', '2.5'),
      'EVN|A08|20261206090000',
      `PID|1||${MRN}^^^GENHOSP^MR||QUERYTEST^ANNA^B||19750312|F`,
      msh('QRY^A19', 'QB-2'),
      `QRD|20261206090000|R|I|QB-2|||1^RD|${MRN}|DEM|||`,
      'BTS|2',
      'FTS|1',
    );
    const first = await client.send(batch);
    const second = await client.next();
    expect([first.get('MSH-9.1'), first.get('MSA-1'), first.get('MSA-2')]).toEqual(['ACK', 'AA', 'QB-1']);
    expect([second.get('MSH-9.1'), second.get('MSA-1'), second.get('MSA-2'), second.get('PID-3.1')]).toEqual(['ADR', 'AA', 'QB-2', MRN]);
    expect(await stored('QB-1')).toBe(1);
    expect(await stored('QB-2')).toBe(0);
  });

  it('leaves PID-7 empty for a birth date BC or after 9999, which no HL7 date can hold, and says why in a warning', async () => {
    await legacy.pool.query(
      `INSERT INTO PATIENT_MASTER (PAT_MRN, PAT_LAST_NM, PAT_FIRST_NM, PAT_DOB, SEX_CD, CREATE_DT, LAST_UPD_DT, LAST_UPD_USER) VALUES
         ('8300002', 'ODDVALUE', 'TEST', DATE '0044-03-15 BC', 'U', TIMESTAMP '2011-03-08 15:43:00', TIMESTAMP '2011-03-08 15:43:00', 'CONVERSION'),
         ('8300003', 'ODDVALUE', 'TEST', DATE '10000-01-01', 'U', TIMESTAMP '2011-03-08 15:43:00', TIMESTAMP '2011-03-08 15:43:00', 'CONVERSION')`,
    );
    const why = 'PID-7 left empty: the birth date is BC or after 9999, not an HL7 date (DTM)';
    for (const mrn of ['8300002', '8300003']) {
      // v2.5: a warning ERR segment (ERR-2 location, ERR-3 code, ERR-4 severity W, ERR-8 why)
      const v25 = await client.send(seg(msh('QRY^A19', `Q-DOB-${mrn}`, '2.5'), `QRD|20261206090000|R|I|Q-DOB-${mrn}|||1^RD|${mrn}|DEM|||`));
      expect([v25.get('MSH-9.1'), v25.get('MSA-1'), v25.get('PID-3.1'), v25.get('PID-5.1'), v25.get('PID-8')]).toEqual(['ADR', 'AA', mrn, 'ODDVALUE', 'U']);
      expect(v25.get('PID-7')).toBe('');
      expect([v25.get('ERR-2.1'), v25.get('ERR-2.2'), v25.get('ERR-2.3'), v25.get('ERR-3.1'), v25.get('ERR-4'), v25.get('ERR-8')]).toEqual(['PID', '1', '7', '102', 'W', why]);
      expect(v25.text).not.toMatch(/0044|10000/);
      // v2.3: ERR-1 (location and code) and the reason in MSA-3
      const v23 = await client.send(patientQuery(`Q-DOB23-${mrn}`, mrn));
      expect([v23.get('MSA-1'), v23.get('MSA-3'), v23.get('ERR-1.1'), v23.get('ERR-1.3'), v23.get('ERR-1.4.1')]).toEqual(['AA', why, 'PID', '7', '102']);
      expect(v23.get('PID-7')).toBe('');
    }
    // a birth date DTM can hold has no ERR
    const usual = await client.send(seg(msh('QRY^A19', 'Q-DOB-usual', '2.5'), `QRD|20261206090000|R|I|Q-DOB-usual|||1^RD|${MRN}|DEM|||`));
    expect([usual.get('PID-7'), usual.count('ERR')]).toEqual(['19750312', 0]);
  });

  it('answers AE (ERR 207) while legacy is away, and the same query is answered once it is back', async () => {
    await legacy.stop();
    const away = await client.send(patientQuery('Q-5', MRN));
    expect(away.get('MSH-9.1')).toBe('ACK');
    expect(away.get('MSA-1')).toBe('AE');
    expect(away.get('MSA-2')).toBe('Q-5');
    expect(away.get('ERR-1.4.1')).toBe('207');
    expect(await stored('Q-5')).toBe(0);

    await legacy.start();
    const back = await client.send(patientQuery('Q-5', MRN));
    expect(back.get('MSH-9.1')).toBe('ADR');
    expect(back.get('MSA-1')).toBe('AA');
    expect(back.get('PID-5.1')).toBe('QUERYTEST');
  });
});
