import { describe, expect, it } from 'vitest';
import { writeBackImage } from './write-back-image.js';

const row = { resultId: 7, value: '4.2', status: 'F', abnormalFlag: null, referenceRange: '3.5-5.1' };

describe('writeBackImage', () => {
  it('leaves out of the before image the pending fields the change did not make', () => {
    // the final's write-back (value, status, flag) not seen to land; a correction changes the value and status
    const image = writeBackImage(row, ['value', 'status', 'abnormalFlag'], ['value', 'status']);
    expect(image.pending).toEqual(['value', 'status', 'abnormalFlag']);
    expect(image.before).toEqual({ resultId: 7, value: '4.2', status: 'F', referenceRange: '3.5-5.1' });
  });

  it('nothing pending: the whole before image', () => {
    expect(writeBackImage(row, [], ['referenceRange'])).toEqual({ pending: ['referenceRange'], before: row });
  });

  it('a change of nothing leaves nothing out (it writes nothing back)', () => {
    expect(writeBackImage(row, ['abnormalFlag'], [])).toEqual({ pending: ['abnormalFlag'], before: row });
  });
});
