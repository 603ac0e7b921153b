/**
 * The interpretation shared by the legacy inbound and the services: what a PID, PV1, A03,
 * A40 and ORU mean, with HL7's "empty keeps, `""` clears" rule, the fallbacks, and the
 * refusals (code, location, words) a receiver answers with. The stores that write these are
 * proven end to end by examples/legacy-his/test/hl7-*.test.ts and extracted-services/test/hl7-parity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  admissionTime,
  decodeMessage,
  demographicChanges,
  describesVisit,
  facilityKey,
  followMerges,
  Hl7Refusal,
  mergePairs,
  noStayWithVisitNumber,
  otherIdentifiers,
  patientMrn,
  preferMrnAuthorities,
  readDemographics,
  readDischarge,
  readObservation,
  readOrder,
  readResultMessage,
  readVisit,
  refuse,
  registration,
  unknownPatient,
  visitChanges,
  type Hl7Message,
} from '../src/index.js';
import { hl7, sample } from './support/samples.js';

const MSH = 'MSH|^~\\&|ADT|GENHOSP|HIS|GENHOSP|20240701103000||ADT^A08^ADT_A01|C1|P|2.5.1';

function message(...segments: string[]): Hl7Message {
  const decoded = decodeMessage(hl7(...segments));
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.message;
}

function fromSample(name: string): Hl7Message {
  const decoded = decodeMessage(sample(name));
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.message;
}

/** `ID|f1|f2|…` with the fields given by position, the others empty */
function seg(id: string, fields: Record<number, string>): string {
  const last = Math.max(...Object.keys(fields).map(Number));
  return [id, ...Array.from({ length: last }, (_, i) => fields[i + 1] ?? '')].join('|');
}

/** the refusal `read` throws, as code, location and text */
function refusalOf(read: () => unknown): { code: number; location: string | undefined; message: string; kind: string } {
  try {
    read();
  } catch (e) {
    if (!(e instanceof Hl7Refusal)) throw e;
    const [, location] = /^HL7 \d+(?: at (\S+))?:/.exec(e.reason) ?? [];
    return { code: e.error.code, location, message: e.error.message, kind: e.kind };
  }
  throw new Error('not refused');
}

describe('the patient of a PID', () => {
  it('reads the published ADT-A01 sample as the legacy keeps it: upper case, codes, one address line, PID-30 closing the record', () => {
    const d = readDemographics(fromSample('ADT-A01-01.hl7'));
    expect(d).toEqual({
      lastName: 'EVERYMAN',
      firstName: 'ADAM',
      middleName: 'A',
      dateOfBirth: '1988-08-18',
      sex: 'M',
      line1: '1000 HOSPITAL LANE STE. 123',
      city: 'ANN ARBOR',
      state: 'MI',
      zip: '99999',
      phone: '78788788',
      maritalStatus: 'M',
      deceased: true,
    });
  });

  it('refuses an MRN that is missing (101) or not 6 to 10 digits (102), at PID-3.1', () => {
    expect(refusalOf(() => patientMrn(fromSample('ADT-A01-01.hl7')))).toMatchObject({ code: 102, location: 'PID^1^3^1^1', message: 'PID-3 is not an MRN (6 to 10 digits)', kind: 'error' });
    expect(refusalOf(() => patientMrn(message(MSH, 'PID|1||')))).toMatchObject({ code: 101, location: 'PID^1^3^1^1' });
    expect(patientMrn(message(MSH, 'PID|1||0012345^^^GENHOSP^MR'))).toBe('0012345');
  });

  it('takes the MRN from the PID-3 repetition typed MR (CX-5), wherever it stands; without one, from the first', () => {
    // a national id of 9 digits first would pass for an MRN: another patient's chart
    const ssnFirst = message(MSH, 'PID|1||123456789^^^SSA^SS~100001^^^GENHOSP^MR~A77^^^INS^HC');
    expect(patientMrn(ssnFirst)).toBe('100001');
    expect(ssnFirst.patientId).toMatchObject({ id: '100001', assigningAuthority: { namespaceId: 'GENHOSP' }, identifierTypeCode: 'MR' });
    expect(otherIdentifiers(ssnFirst)).toEqual([
      { authority: 'SSA', type: 'SS', value: '123456789' },
      { authority: 'INS', type: 'HC', value: 'A77' },
    ]);
    // lower case, and the first MR when another facility's MRN is typed MR too
    expect(patientMrn(message(MSH, 'PID|1||9999^^^X^PI~100002^^^GENHOSP^mr~100009^^^OTHER^MR'))).toBe('100002');
    // no repetition typed MR: the first, as before
    const untyped = message(MSH, 'PID|1||100003^^^GENHOSP~123456789^^^SSA^SS');
    expect(patientMrn(untyped)).toBe('100003');
    expect(untyped.patientId?.id).toBe('100003');
    expect(otherIdentifiers(untyped)).toEqual([{ authority: 'SSA', type: 'SS', value: '123456789' }]);
    // the MR repetition is checked, and a refusal points at it
    expect(refusalOf(() => patientMrn(message(MSH, 'PID|1||123456789^^^SSA^SS~X12^^^GENHOSP^MR')))).toMatchObject({ code: 102, location: 'PID^1^3^2^1', message: 'PID-3(2) is not an MRN (6 to 10 digits)' });
    // an empty repetition between them
    expect(patientMrn(message(MSH, 'PID|1||123456789^^^SSA^SS~~100004^^^GENHOSP^MR'))).toBe('100004');
  });

  it("with this hospital's authorities named (HL7_MRN_AUTHORITIES), takes our MR among other facilities' and refuses a list of theirs only", () => {
    preferMrnAuthorities(['GENHOSP', ' 2.16.840.1.113883.19.5 ']);
    try {
      // an HIE feed lists every facility's MR, ours not first
      const hie = message(MSH, 'PID|1||7492858^^^OTHERHOSP^MR~7472272^^^GENHOSP^MR');
      expect(patientMrn(hie)).toBe('7472272');
      expect(hie.patientId?.id).toBe('7472272');
      expect(otherIdentifiers(hie)).toEqual([{ authority: 'OTHERHOSP', type: 'MR', value: '7492858' }]);
      // by universal id (an OID), and case aside
      expect(patientMrn(message(MSH, 'PID|1||7492858^^^OTHERHOSP^MR~7472273^^^&2.16.840.1.113883.19.5&ISO^MR'))).toBe('7472273');
      expect(patientMrn(message(MSH, 'PID|1||7492858^^^OTHERHOSP^MR~7472274^^^genhosp^MR'))).toBe('7472274');
      // an MR naming no authority is read as ours, another's never
      expect(patientMrn(message(MSH, 'PID|1||7492858^^^OTHERHOSP^MR~7472275^^^^MR'))).toBe('7472275');
      expect(refusalOf(() => patientMrn(message(MSH, 'PID|1||7492858^^^OTHERHOSP^MR~123456789^^^SSA^SS')))).toMatchObject({ code: 204, location: 'PID^1^3' });
      expect(refusalOf(() => patientMrn(message(MSH, 'PID|1||7492858^^^OTHERHOSP')))).toMatchObject({ code: 204 });
      expect(patientMrn(message(MSH, 'PID|1||7472276'))).toBe('7472276');
      // the lane is still one per listed patient
      expect(message(MSH, 'PID|1||7492858^^^OTHERHOSP^MR').patientId?.id).toBe('7492858');
    } finally {
      preferMrnAuthorities([]);
    }
    expect(patientMrn(message(MSH, 'PID|1||7492858^^^OTHERHOSP^MR~7472272^^^GENHOSP^MR'))).toBe('7492858');
  });

  it('refuses an identifier list with no MRN: none typed MR, and the first typed as another kind of id (SS, passport, NNxxx…)', () => {
    // a social security number alone would have registered the patient under it
    expect(refusalOf(() => patientMrn(message(MSH, 'PID|1||777000112^^^SSA^SS')))).toMatchObject({
      code: 102,
      location: 'PID^1^3^1^5',
      message: 'PID-3 holds no medical record number: PID-3 is typed SS, another kind of identifier; the MRN is the repetition typed MR (CX-5)',
      kind: 'error',
    });
    expect(refusalOf(() => patientMrn(message(MSH, 'PID|1||123456789^^^GOV^ppn~100001^^^GENHOSP')))).toMatchObject({ code: 102, location: 'PID^1^3^1^5' });
    expect(refusalOf(() => patientMrn(message(MSH, 'PID|1||1234567890^^^NHS^NNGBR')))).toMatchObject({ code: 102 });
    expect(refusalOf(() => patientMrn(message(MSH, 'PID|1||12345678^^^HOSP^AN')))).toMatchObject({ code: 102 });
    // untyped, PI, PT and local codes (the public samples' GOOD) are read as the MRN
    expect(patientMrn(message(MSH, 'PID|1||100005^^^GENHOSP^PI~123456789^^^SSA^SS'))).toBe('100005');
    expect(patientMrn(message(MSH, 'PID|1||100006^^^GENHOSP^PT'))).toBe('100006');
    expect(patientMrn(message(MSH, 'PID|1||100007^5^M11^ADT1^GOOD'))).toBe('100007');
    // an empty identifier typed SS is a missing MRN, as before
    expect(refusalOf(() => patientMrn(message(MSH, 'PID|1||^^^SSA^SS')))).toMatchObject({ code: 101 });
    // MRG-1 alike: a merge naming the merged patient by a national id only is refused
    expect(refusalOf(() => [...mergePairs(message(MSH, 'EVN|A40', 'PID|1||100001^^^GENHOSP^MR', 'MRG|987654321^^^SSA^SS'))])).toMatchObject({ code: 102, location: 'MRG^1^1^1^5' });
  });

  it('keeps what an empty field does not send, clears what "" clears, and never clears a name, birth date or sex', () => {
    const d = readDemographics(message(MSH, seg('PID', { 1: '1', 3: '100001', 5: '""^JOHN^""', 7: '', 8: '""', 11: '^^""^^""', 13: '""', 16: '""' })));
    // HL7's null for sex reads as "unknown", a value
    expect(demographicChanges(d)).toStrictEqual({ firstName: 'JOHN', middleName: null, sex: 'U', city: null, zip: null, phone: null, maritalStatus: null });
    expect(demographicChanges(readDemographics(message(MSH, 'PID|1||100001')))).toStrictEqual({});
    expect(demographicChanges(readDemographics(message(MSH, seg('PID', { 1: '1', 3: '100001', 30: 'Y' }))))).toStrictEqual({ active: false });
  });

  it('says so when a birth date names only a year or a month, a valid DTM but no day to keep', () => {
    const dob = (v: string) => refusalOf(() => readDemographics(message(MSH, seg('PID', { 1: '1', 3: '100001', 7: v }))));
    expect(dob('1961')).toMatchObject({ code: 102, location: 'PID^1^7', message: 'PID-7 names only a year or a month: a whole day is needed (YYYYMMDD)' });
    expect(dob('196107')).toMatchObject({ code: 102, message: 'PID-7 names only a year or a month: a whole day is needed (YYYYMMDD)' });
    expect(dob('19610231')).toMatchObject({ code: 102, message: 'PID-7 is not a valid HL7 date/time (YYYYMMDD[HHMM[SS]][+/-ZZZZ])' });
  });

  it('builds the area code and local number into a phone number when XTN-1 is empty', () => {
    expect(readDemographics(message(MSH, seg('PID', { 1: '1', 3: '100001', 13: '^PRN^PH^^^217^5550101' }))).phone).toBe('217-555-0101');
  });

  it('registers only with a family name, a given name and a birth date; sex unknown and the rest empty when not sent', () => {
    const full = readDemographics(message(MSH, 'PID|1||100001||doe^jane||19800229'));
    expect(registration(full)).toEqual({
      lastName: 'DOE',
      firstName: 'JANE',
      middleName: null,
      dateOfBirth: '1980-02-29',
      sex: 'U',
      line1: null,
      city: null,
      state: null,
      zip: null,
      phone: null,
      maritalStatus: null,
      active: true,
    });
    expect(refusalOf(() => registration(readDemographics(message(MSH, 'PID|1||100001||^JANE||19800229'))))).toMatchObject({ code: 101, location: 'PID^1^5^1^1' });
    expect(refusalOf(() => registration(readDemographics(message(MSH, 'PID|1||100001||DOE||19800229'))))).toMatchObject({ code: 101, location: 'PID^1^5^1^2' });
    expect(refusalOf(() => registration(readDemographics(message(MSH, 'PID|1||100001||DOE^JANE'))))).toMatchObject({ code: 101, location: 'PID^1^7' });
    expect(refusalOf(() => readDemographics(message(MSH, 'PID|1||100001||DOE^JANE||19800230')))).toMatchObject({ code: 102, location: 'PID^1^7' });
  });
});

describe('the stay of a PV1', () => {
  it('reads the published ADT-A01 sample: point of care, bed, class with admission type, doctor, visit number, admit time with its offset', () => {
    const m = fromSample('ADT-A01-01.hl7');
    const visit = readVisit(m);
    expect(visit).toEqual({ visitNo: '40007716', pointOfCare: 'HUH AE OMU', bed: 'BED 03', admissionType: 'E', doctor: '1122334', admitted: '2015-02-08 11:34:19+01:10' });
    expect(visitChanges(visit).map((c) => c.field)).toEqual(['pointOfCare', 'bed', 'admissionType', 'doctor', 'admitted']);
    expect(describesVisit(m)).toBe(true);
  });

  it('an A04 PV1 of class N with nothing else describes no visit; a stay without PV1-44 begins at EVN-6, EVN-2 or MSH-7', () => {
    expect(describesVisit(message(MSH, 'PID|1||100001', 'PV1|1|N'))).toBe(false);
    expect(describesVisit(message(MSH, 'PID|1||100001'))).toBe(false);
    const m = message(MSH, 'EVN|A01|20240701101500', 'PID|1||100001', 'PV1|1|I|W3^^2');
    expect(admissionTime(m, readVisit(m))).toBe('2024-07-01 10:15:00');
    expect(visitChanges(readVisit(m))).toEqual([
      { field: 'pointOfCare', value: 'W3' },
      { field: 'bed', value: '2' },
      { field: 'admissionType', value: 'I' },
    ]);
  });

  it('refuses a visit number over 20 characters (104)', () => {
    expect(refusalOf(() => readVisit(message(MSH, 'PID|1||100001', seg('PV1', { 1: '1', 2: 'I', 19: 'V'.repeat(21) }))))).toMatchObject({ code: 104, location: 'PV1^1^19^1^1' });
  });

  it('reads a discharge: the disposition as two digits, the time from PV1-45 or the event; refuses what is missing or not a code', () => {
    const pv1 = (disposition: string, discharged: string) => seg('PV1', { 1: '1', 2: 'I', 3: 'W3', 19: 'V1', 36: disposition, 45: discharged });
    expect(readDischarge(message(MSH, 'PID|1||100001', pv1('1', '20240702090000')))).toEqual({ disposition: '01', discharged: '2024-07-02 09:00:00' });
    expect(readDischarge(message(MSH, 'EVN|A03|20240702080000', 'PID|1||100001', pv1('20', '')))).toEqual({ disposition: '20', discharged: '2024-07-02 08:00:00' });
    expect(refusalOf(() => readDischarge(message(MSH, 'PID|1||100001', pv1('', ''))))).toMatchObject({ code: 101, location: 'PV1^1^36' });
    expect(refusalOf(() => readDischarge(message(MSH, 'PID|1||100001', pv1('HOME', ''))))).toMatchObject({ code: 103, location: 'PV1^1^36' });
  });
});

describe('the merge pairs of an A40', () => {
  it('reads the pairs one at a time, so that a later pair is refused only after the earlier ones are applied', () => {
    const m = message(MSH, 'EVN|A40', 'PID|1||100001', 'MRG|100002', 'PID|2||100003');
    const pairs = mergePairs(m);
    expect(pairs.next().value).toEqual({ pair: 1, survivorMrn: '100001', mergedMrn: '100002' });
    expect(refusalOf(() => pairs.next())).toMatchObject({ code: 101, location: 'MRG^2', message: 'PID 2 has no MRG segment' });
    expect(refusalOf(() => [...mergePairs(message(MSH, 'EVN|A40', 'PID|1||100001'))])).toMatchObject({ code: 101, location: 'MRG^1' });
    expect(refusalOf(() => [...mergePairs(message(MSH, 'EVN|A40', 'PID|1||100001', 'MRG|X1'))])).toMatchObject({ code: 102, location: 'MRG^1^1^1^1' });
    // MRG-1 and PID-3 are read alike: the repetition typed MR
    expect([...mergePairs(message(MSH, 'EVN|A40', 'PID|1||123456789^^^SSA^SS~100001^^^GENHOSP^MR', 'MRG|987654321^^^SSA^SS~100002^^^GENHOSP^MR'))]).toEqual([
      { pair: 1, survivorMrn: '100001', mergedMrn: '100002' },
    ]);
  });
});

describe('merges followed', () => {
  it('to the end of a chain, never round a loop back to the MRN asked about, and at most 16 merges deep', async () => {
    const merged = new Map([
      ['100001', '100002'],
      ['100002', '100003'],
      ['200001', '200002'],
      ['200002', '200001'],
    ]);
    const survivorOf = async (mrn: string) => merged.get(mrn);
    expect(await followMerges('100001', survivorOf)).toBe('100003');
    expect(await followMerges('100003', survivorOf)).toBe('100003');
    expect(await followMerges('200001', survivorOf)).toBe('200002');
    const asked: string[] = [];
    const endless = async (mrn: string) => {
      asked.push(mrn);
      return String(Number(mrn) + 1);
    };
    expect(await followMerges('300000', endless)).toBe('300016');
    expect(asked).toHaveLength(16);
  });
});

describe('the results of an ORU', () => {
  const ORU = 'MSH|^~\\&|LAB|CORELAB|HIS|GENHOSP|20240701120000||ORU^R01^ORU_R01|R1|P|2.5.1';
  const obx = (n: number, type: string, test: string, value: string, flag: string, status: string) => seg('OBX', { 1: String(n), 2: type, 3: test, 5: value, 8: flag, 11: status });

  it('groups observations by patient and order: not those before any OBR, not those after the order\'s SPM', () => {
    const m = message(
      ORU,
      'PID|1||100001',
      'OBX|1|NM|8302-2^HEIGHT||180|cm',
      seg('PV1', { 1: '1', 2: 'I', 3: 'W3', 19: 'V100' }),
      'ORC|RE|P77|F77',
      'OBR|1|||CBC^PANEL',
      'OBX|1|NM|718-7^HGB||13.5|g/dL|12-16|N|||F',
      seg('SPM', { 1: '1', 2: 'S1', 4: 'BLD', 17: '20240701061500' }),
      'OBX|1|TX|SPEC^SPECIMEN NOTE||HEMOLYSED||||||F',
      'PID|2||100002',
      'OBR|1|P88',
    );
    const { patients, messageTime } = readResultMessage(m);
    expect(patients.map((p) => ({ pid: p.pid, visitNo: p.visitNo, orders: p.orders.map((o) => ({ obr: o.obr, orc: o.orc, observations: o.observations })) }))).toEqual([
      { pid: 1, visitNo: 'V100', orders: [{ obr: 1, orc: 1, observations: [2] }] },
      { pid: 2, visitNo: undefined, orders: [{ obr: 2, orc: undefined, observations: [] }] },
    ]);
    expect(messageTime?.timestamp).toBe('2024-07-01 12:00:00');
    // OBR-3 and OBR-2 empty: ORC-3 names the order; no OBR-7: the specimen's collection time
    const order = readOrder(m, patients[0]!.orders[0]!, messageTime);
    expect(order).toMatchObject({ orderNo: 'F77', collected: { timestamp: '2024-07-01 06:15:00' }, reported: undefined });
    expect(readOrder(m, patients[1]!.orders[0]!, messageTime).orderNo).toBe('P88');
    expect(readObservation(m, 2, order)).toEqual({
      kind: 'store',
      testCode: '718-7',
      result: { testName: 'HGB', value: '13.5', units: 'g/dL', referenceRange: '12-16', abnormalFlag: null, status: 'F', collected: '2024-07-01 06:15:00', resulted: '2024-07-01 12:00:00' },
    });
  });

  it('refuses an OBR before any PID (100), a message without PID (101), an order without a number (101)', () => {
    expect(refusalOf(() => readResultMessage(message(ORU, 'OBR|1|P1')))).toMatchObject({ code: 100, location: 'OBR^1' });
    expect(refusalOf(() => readResultMessage(message(ORU)))).toMatchObject({ code: 101, location: 'PID^1' });
    const m = message(ORU, 'PID|1||100001', 'OBR|1');
    expect(refusalOf(() => readOrder(m, readResultMessage(m).patients[0]!.orders[0]!, undefined))).toMatchObject({ code: 101, location: 'OBR^1^3^1^1' });
  });

  it('prints values as the laboratory does, and reads what each result status asks for', () => {
    const m = message(
      ORU,
      'PID|1||100001',
      seg('OBR', { 1: '1', 2: 'P1', 3: 'F1', 7: '20240701061500' }),
      obx(1, 'SN', 'TROP^TROPONIN', '<^0.04', 'N', 'F'),
      obx(2, 'CWE', 'CULT^CULTURE', 'SAL^Salmonella^L', 'A', 'C'),
      obx(3, 'ST', 'NOTE^NOTE', 'first~second', 'N', 'P'),
      obx(4, 'NM', 'GLU^GLUCOSE', '99', '', 'W'),
      obx(5, 'NM', 'GLU^GLUCOSE', '', '', 'I'),
      obx(6, 'RP', 'IMG^IMAGE', 'http://x', '', 'F'),
      obx(7, 'NM', 'GLU^GLUCOSE', '99', '', ''),
      obx(8, 'NM', 'GLU^GLUCOSE', '99', '', 'Q'),
      obx(9, 'NM', 'TOOLONGCODE1^X', '99', '', 'F'),
      obx(10, 'ST', 'NOTE^NOTE', '""', 'N', 'F'),
      obx(11, 'ST', 'NOTE^NOTE', '""~kept', 'N', 'F'),
      obx(12, 'ST', 'NOTE^NOTE', '\u{20BB7}'.repeat(61), 'N', 'F'),
    );
    const { patients, messageTime } = readResultMessage(m);
    const order = readOrder(m, patients[0]!.orders[0]!, messageTime);
    const read = (obx: number) => readObservation(m, obx, order);
    expect(read(1)).toMatchObject({ kind: 'store', result: { value: '<0.04', abnormalFlag: null, status: 'F', collected: '2024-07-01 06:15:00' } });
    expect(read(2)).toMatchObject({ kind: 'store', result: { value: 'Salmonella', abnormalFlag: 'A', status: 'C' } });
    expect(read(3)).toMatchObject({ kind: 'store', result: { value: 'first, second', abnormalFlag: 'N', status: 'P' } });
    expect(read(4)).toEqual({ kind: 'withdraw', testCode: 'GLU' });
    expect(read(5)).toEqual({ kind: 'skip' });
    expect(read(6)).toEqual({ kind: 'skip' });
    expect(refusalOf(() => read(7))).toMatchObject({ code: 101, location: 'OBX^7^11' });
    expect(refusalOf(() => read(8))).toMatchObject({ code: 103, location: 'OBX^8^11' });
    expect(refusalOf(() => read(9))).toMatchObject({ code: 104, location: 'OBX^9^3^1^1' });
    // "" is HL7's null, not a value of two quotes; a value is cut at 60 characters, never inside one
    expect(read(10)).toMatchObject({ kind: 'store', result: { value: null } });
    expect(read(11)).toMatchObject({ kind: 'store', result: { value: 'kept' } });
    expect(read(12)).toMatchObject({ kind: 'store', result: { value: '\u{20BB7}'.repeat(60) } });
  });

  it('takes the collection time from OBR-7, the specimen, OBX-14, then MSH-7; refuses a result with none', () => {
    const m = message(
      'MSH|^~\\&|LAB|CORELAB|HIS|GENHOSP|||ORU^R01^ORU_R01|R2|P|2.5.1',
      'PID|1||100001',
      'OBR|1|P1',
      seg('OBX', { 1: '1', 2: 'NM', 3: 'GLU', 5: '99', 11: 'F', 14: '20240630230000' }),
      obx(2, 'NM', 'GLU2', '99', '', 'F'),
    );
    const { patients, messageTime } = readResultMessage(m);
    const order = readOrder(m, patients[0]!.orders[0]!, messageTime);
    expect(readObservation(m, 1, order)).toMatchObject({ result: { collected: '2024-06-30 23:00:00', resulted: null } });
    expect(refusalOf(() => readObservation(m, 2, order))).toMatchObject({ code: 101, location: 'OBR^1^7' });
  });
});

describe('refusals', () => {
  it('say the code, where and why, and whether the sender may try again', () => {
    expect(unknownPatient(2).reason).toBe('HL7 204 at PID^2^3^1^1: PID-3: no patient with this MRN');
    expect(noStayWithVisitNumber().reason).toBe('HL7 204 at PV1^1^19^1^1: PV1-19: the patient has no stay with this visit number');
    expect(refuse(200, 'message type XYZ is not supported', undefined, 'rejected')).toMatchObject({ kind: 'rejected', reason: 'HL7 200: message type XYZ is not supported' });
  });

  it('key a sending facility by its parts, trailing empty parts left out', () => {
    expect(facilityKey({ namespaceId: 'GENHOSP', universalId: '', universalIdType: '' })).toBe('GENHOSP');
    expect(facilityKey({ namespaceId: 'A', universalId: '1.2.3', universalIdType: 'ISO' })).toBe('A^1.2.3^ISO');
  });
});
