import { describe, expect, it } from 'vitest';
import { buildAck, decodeMessage, hl7Error, readAck } from '../src/index.js';

const MESSAGE = 'MSH|^~\\&|LAB|GENHOSP|HIS|GENHOSP|20240701083000||ORU^R01^ORU_R01|CT\\F\\RL|P|2.5\rPID|1||100001^^^GENHOSP^MR\r';

describe('readAck', () => {
  it('reads what a sender needs from an ACK, as the full decoder does', () => {
    const decoded = decodeMessage(Buffer.from(MESSAGE));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    for (const code of ['AA', 'AE', 'AR', 'CA'] as const) {
      const ack = buildAck(decoded.message, code, code === 'AE' ? { error: hl7Error(204, 'unknown patient|x') } : {});
      const fields = readAck(ack.bytes);
      const full = decodeMessage(ack.bytes);
      expect(full.ok).toBe(true);
      if (!full.ok) continue;
      expect(fields).toEqual({
        code,
        controlId: full.message.get('MSA-2'),
        text: [full.message.get('MSA-3'), full.message.get('ERR-8'), full.message.get('ERR-3.2')].filter(Boolean).join('; '),
      });
    }
  });

  it('reads nothing from what is not an ACK', () => {
    expect(readAck(Buffer.from(MESSAGE))).toBeUndefined();
    expect(readAck(Buffer.from('hello'))).toBeUndefined();
    expect(readAck(Buffer.from('MSH|^~\\&|A\rMSA|XX|1\r'))).toBeUndefined();
  });
});
