/** The ADT and ORU messages the write-back tests send, timed after now so that each is newer than what the legacy holds. */
import { hl7, msh, segment, uniqueControlId } from '../../../examples/legacy-his/test/support/mllp-client.js';
import { hl7Time } from '../../../test-support/service-scene.js';

export const minutes = (n: number) => new Date(Date.now() + n * 60_000);

export const a01 = (mrn: string, family: string, visit: string, at: Date) =>
  hl7(
    msh('ADT^A01^ADT_A01', uniqueControlId('A01'), { time: hl7Time(at) }),
    `EVN|A01|${hl7Time(at)}`,
    segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, 5: `${family}^ANN`, 7: '19700102', 8: 'F' }),
    segment('PV1', { 1: '1', 2: 'I', 3: 'MED2^^9', 19: visit, 44: '202407020900' }),
  );

export const a08 = (mrn: string, family: string, at: Date) =>
  hl7(msh('ADT^A08^ADT_A01', uniqueControlId('A08'), { time: hl7Time(at) }), `EVN|A08|${hl7Time(at)}`, segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, 5: `${family}^ANN` }));

/** a potassium (one OBX) of `order`; OBX-8 `flag` when given */
export const oru = (mrn: string, order: string, value: string, status: 'P' | 'F' | 'C', at: Date, flag = '') =>
  hl7(
    msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { facility: 'CORELAB', time: hl7Time(at) }),
    `PID|1||${mrn}`,
    segment('OBR', { 1: '1', 3: order, 7: '20240702071500', 22: '20240702091500' }),
    segment('OBX', { 1: '1', 2: 'NM', 3: '2823-3^POTASSIUM^LN', 5: value, 6: 'mmol/L', 7: '3.5-5.1', 8: flag, 11: status }),
  );
