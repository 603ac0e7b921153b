import { describe, expect, it } from 'vitest';
import { asImageRuns, imageNodeFlags } from './image-flags.js';

describe('imageNodeFlags', () => {
  it("reads each deployable's Node flags from the Dockerfile the images are built from", () => {
    expect(imageNodeFlags('gateway/dist/main.js')).toEqual(expect.arrayContaining(['--max-semi-space-size=32', '--no-memory-reducer']));
    expect(imageNodeFlags('legacy-adapters/hl7-adapter/dist/main.js')).toEqual([]);
    expect(imageNodeFlags('x/dist/main.js', 'FROM a\nCMD ["node", "--a", "--b=1", "x/dist/main.js"]\n')).toEqual(['--a', '--b=1']);
  });

  it('gives the arguments that run a deployable as its image does', () => {
    const args = asImageRuns('gateway/dist/main.js');
    expect(args.slice(0, -1)).toEqual(imageNodeFlags('gateway/dist/main.js'));
    expect(args.at(-1)).toMatch(/\/gateway\/dist\/main\.js$/);
  });

  it('names the script when the Dockerfile does not run it', () => {
    expect(() => imageNodeFlags('nowhere/dist/main.js')).toThrow('nowhere/dist/main.js');
  });
});
