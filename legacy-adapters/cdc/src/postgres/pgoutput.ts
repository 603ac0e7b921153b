/**
 * Decodes the messages of PostgreSQL's pgoutput plugin, protocol version 1 (PostgreSQL 10+),
 * with `messages 'true'` (logical decoding messages, the write-back marker). Values are kept as
 * text (or null, or "unchanged large value"); values.ts turns them into the envelope's.
 * https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
 */

export interface RelationColumn {
  name: string;
  typeOid: number;
  /** part of the replica identity */
  key: boolean;
}

export interface Relation {
  oid: number;
  schema: string;
  name: string;
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  columns: RelationColumn[];
}

/** a TOASTed value that the update did not change and the server did not send */
export const UNCHANGED = Symbol('unchanged');
export type TupleValue = string | null | typeof UNCHANGED;

export type PgOutputMessage =
  | { tag: 'begin'; finalLsn: bigint; commitTime: bigint; xid: number }
  | { tag: 'commit'; commitLsn: bigint; endLsn: bigint; commitTime: bigint }
  | { tag: 'origin'; lsn: bigint; name: string }
  | { tag: 'relation'; relation: Relation }
  | { tag: 'type'; oid: number; schema: string; name: string }
  | { tag: 'insert'; relationOid: number; after: TupleValue[] }
  | { tag: 'update'; relationOid: number; before: TupleValue[] | null; beforeIsKeyOnly: boolean; after: TupleValue[] }
  | { tag: 'delete'; relationOid: number; before: TupleValue[]; beforeIsKeyOnly: boolean }
  | { tag: 'truncate'; relationOids: number[]; cascade: boolean; restartIdentity: boolean }
  | { tag: 'message'; transactional: boolean; lsn: bigint; prefix: string; content: Buffer };

class Reader {
  p = 0;
  constructor(readonly b: Buffer) {}
  u8(): number {
    return this.b.readUInt8(this.p++);
  }
  i16(): number {
    const v = this.b.readInt16BE(this.p);
    this.p += 2;
    return v;
  }
  i32(): number {
    const v = this.b.readInt32BE(this.p);
    this.p += 4;
    return v;
  }
  u32(): number {
    const v = this.b.readUInt32BE(this.p);
    this.p += 4;
    return v;
  }
  u64(): bigint {
    const v = this.b.readBigUInt64BE(this.p);
    this.p += 8;
    return v;
  }
  i64(): bigint {
    const v = this.b.readBigInt64BE(this.p);
    this.p += 8;
    return v;
  }
  cstring(): string {
    const end = this.b.indexOf(0, this.p);
    if (end < 0) throw new Error('pgoutput: a string without its terminator');
    const s = this.b.toString('utf8', this.p, end);
    this.p = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    if (this.p + n > this.b.length) throw new Error('pgoutput: a message shorter than it says');
    const s = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return s;
  }
}

function tuple(r: Reader): TupleValue[] {
  const n = r.i16();
  const values: TupleValue[] = new Array<TupleValue>(n);
  for (let i = 0; i < n; i++) {
    const kind = r.u8();
    if (kind === 0x74 /* t */) {
      const len = r.i32();
      values[i] = r.b.toString('utf8', r.p, r.p + len);
      r.p += len;
    } else if (kind === 0x6e /* n */) values[i] = null;
    else if (kind === 0x75 /* u */) values[i] = UNCHANGED;
    else throw new Error(`pgoutput: value kind ${String.fromCharCode(kind)} is not text (binary mode is not used)`);
  }
  return values;
}

export function decodePgOutput(buf: Buffer): PgOutputMessage {
  const r = new Reader(buf);
  const tag = r.u8();
  switch (tag) {
    case 0x42 /* B */:
      return { tag: 'begin', finalLsn: r.u64(), commitTime: r.i64(), xid: r.u32() };
    case 0x43 /* C */:
      r.u8(); // flags, unused
      return { tag: 'commit', commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.i64() };
    case 0x4f /* O */:
      return { tag: 'origin', lsn: r.u64(), name: r.cstring() };
    case 0x52 /* R */: {
      const oid = r.u32();
      const schema = r.cstring();
      const name = r.cstring();
      const replicaIdentity = String.fromCharCode(r.u8()) as Relation['replicaIdentity'];
      const n = r.i16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < n; i++) {
        const flags = r.u8();
        const colName = r.cstring();
        const typeOid = r.u32();
        r.i32(); // type modifier
        columns.push({ name: colName, typeOid, key: (flags & 1) === 1 });
      }
      return { tag: 'relation', relation: { oid, schema, name, replicaIdentity, columns } };
    }
    case 0x59 /* Y */:
      return { tag: 'type', oid: r.u32(), schema: r.cstring(), name: r.cstring() };
    case 0x49 /* I */: {
      const relationOid = r.u32();
      r.u8(); // N
      return { tag: 'insert', relationOid, after: tuple(r) };
    }
    case 0x55 /* U */: {
      const relationOid = r.u32();
      let kind = r.u8();
      let before: TupleValue[] | null = null;
      let beforeIsKeyOnly = false;
      if (kind === 0x4b /* K */ || kind === 0x4f /* O */) {
        beforeIsKeyOnly = kind === 0x4b;
        before = tuple(r);
        kind = r.u8();
      }
      if (kind !== 0x4e /* N */) throw new Error(`pgoutput: update without its new row (${String.fromCharCode(kind)})`);
      return { tag: 'update', relationOid, before, beforeIsKeyOnly, after: tuple(r) };
    }
    case 0x44 /* D */: {
      const relationOid = r.u32();
      const kind = r.u8();
      return { tag: 'delete', relationOid, beforeIsKeyOnly: kind === 0x4b, before: tuple(r) };
    }
    case 0x54 /* T */: {
      const n = r.i32();
      const options = r.u8();
      const relationOids: number[] = [];
      for (let i = 0; i < n; i++) relationOids.push(r.u32());
      return { tag: 'truncate', relationOids, cascade: (options & 1) === 1, restartIdentity: (options & 2) === 2 };
    }
    case 0x4d /* M */: {
      const flags = r.u8();
      const lsn = r.u64();
      const prefix = r.cstring();
      const len = r.i32();
      return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content: Buffer.from(r.bytes(len)) };
    }
    default:
      throw new Error(`pgoutput: unknown message type ${String.fromCharCode(tag)} (0x${tag.toString(16)})`);
  }
}

/** `0/16B3748` (PostgreSQL's text form) ↔ bigint */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) throw new Error(`not an LSN: ${text}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The envelope's PostgreSQL position: `<commit LSN, 16 hex>/<index in the transaction, 8 hex>`. */
export function pgPosition(commitLsn: bigint, index: number): string {
  return `${commitLsn.toString(16).toUpperCase().padStart(16, '0')}/${index.toString(16).toUpperCase().padStart(8, '0')}`;
}

/** PostgreSQL timestamps on the wire: microseconds since 2000-01-01 00:00 UTC. */
const PG_EPOCH_MS = 946_684_800_000n;
export function pgTimeToDate(us: bigint): Date {
  return new Date(Number(us / 1000n + PG_EPOCH_MS));
}
export function dateToPgTime(ms: number): bigint {
  return (BigInt(ms) - PG_EPOCH_MS) * 1000n;
}
