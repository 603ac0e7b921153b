/**
 * An order-independent checksum of one side's records: SHA-256 over the sorted record hashes.
 * Equal checksums mean both sides hold the same multiset of records (ignored fields removed),
 * however they were listed or fetched; the checksum is comparable between runs, and between
 * `ficus reconcile` and anything else that hashes records the same way.
 */
import { createHash } from 'node:crypto';

export class SideChecksum {
  private readonly hashes: string[] = [];

  add(recordHash: string): void {
    this.hashes.push(recordHash);
  }

  get count(): number {
    return this.hashes.length;
  }

  /** `sha256:<hex>` over the record hashes in sorted order, one per line */
  digest(): string {
    const h = createHash('sha256');
    for (const r of [...this.hashes].sort()) h.update(`${r}\n`);
    return `sha256:${h.digest('hex')}`;
  }
}
