/** The ADT messages the write-back tests send, timed after now so that each is newer than what the legacy holds. */
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
