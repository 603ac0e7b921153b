/**
 * Which partition a key belongs to. Producers (the HL7 adapter, the CDC reader) and consumers
 * (the new services) must agree, and a key must keep its partition across processes and
 * versions, or one patient's events could be worked on side by side and overtake each other.
 */

/** FNV-1a (32-bit) of the UTF-16 code units of the key, modulo the partition count. */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/** The queue of one partition: `<prefix>.p<n>` (`hl7.patient-service.p3`, `cdc.patients.p0`). */
export function partitionQueueName(prefix: string, partition: number): string {
  return `${prefix}.p${partition}`;
}
