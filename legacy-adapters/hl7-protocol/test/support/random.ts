/** A small seeded generator (xorshift32), so that a fuzz failure can be replayed from its seed. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }

  /** 0 <= n < max */
  int(max: number): number {
    return this.next() % max;
  }

  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** Random bytes, `framing` of them (by default a quarter) MLLP framing bytes 0x0B, 0x1C, 0x0D. */
  bytes(length: number, framing = 0.25): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.chance(framing) ? this.pick([0x0b, 0x1c, 0x0d]) : this.int(256);
    return out;
  }

  /** Cuts a buffer into chunks at random points. */
  chunks(data: Buffer, maxChunk: number): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < data.length; ) {
      const n = 1 + this.int(maxChunk);
      out.push(data.subarray(i, i + n));
      i += n;
    }
    return out;
  }
}
