import { describe, expect, it } from 'vitest';
import { sameMessage } from './same-message.js';

const m = (time: string, pid = 'PID|1||100001^^^H^MR||DOE^JANE', end = '\r') => Buffer.from(`MSH|^~\\&|REG|HOSP|HIS|HOSP|${time}||ADT^A08|C1|P|2.5${end}${pid}${end}`, 'latin1');

describe('sameMessage', () => {
  it('takes a resend with a new MSH-7, other segment ends or a byte-order mark for the same message', () => {
    expect(sameMessage(m('20260101120000'), m('20260101120000'))).toBe(true);
    expect(sameMessage(m('20260101120000'), m('20260101120507'))).toBe(true);
    expect(sameMessage(m('20260101120000'), m('20260101120000', undefined, '\r\n'))).toBe(true);
    expect(sameMessage(m('20260101120000'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), m('20260101120000')]))).toBe(true);
  });

  it('tells another message under the same control id apart', () => {
    expect(sameMessage(m('20260101120000'), m('20260101120000', 'PID|1||100002^^^H^MR||DOE^JANE'))).toBe(false);
    expect(sameMessage(m('20260101120000'), Buffer.from('MSH|^~\\&|LAB|HOSP|HIS|HOSP|20260101120000||ADT^A08|C1|P|2.5\rPID|1||100001^^^H^MR||DOE^JANE\r'))).toBe(false);
    expect(sameMessage(m('20260101120000'), Buffer.concat([m('20260101120000'), Buffer.from('ZPI|1\r')]))).toBe(false);
  });
});
