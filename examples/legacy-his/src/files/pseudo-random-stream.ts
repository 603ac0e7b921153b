/**
 * A byte stream of deterministic pseudo-random content of a given length. Chunks are made
 * only when the consumer asks for more (Readable's _read), so a slow client holds back the
 * generator and memory stays at one chunk however large the download.
 */
import { Readable } from 'node:stream';
import { Prng } from '../seed/prng.js';

const CHUNK_BYTES = 64 * 1024;
/** the same seed for every download: the first N bytes are the same whatever the size asked */
export const DOWNLOAD_SEED = 0x5eed_f11e;

export function pseudoRandomStream(totalBytes: number, seed = DOWNLOAD_SEED): Readable {
  const rng = new Prng(seed);
  let remaining = totalBytes;
  return new Readable({
    highWaterMark: CHUNK_BYTES,
    read() {
      if (remaining <= 0) {
        this.push(null);
        return;
      }
      // chunks are whole multiples of four bytes (but the last), so content never depends on chunking
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, remaining));
      rng.fill(chunk);
      remaining -= chunk.length;
      this.push(chunk);
    },
  });
}
