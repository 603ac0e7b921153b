/**
 * The key changes CDC has read (a row whose key a legacy screen changed: a delete carrying
 * `movedTo`), kept in Redis for the legacy writer: a write-back of the old key that finds no
 * legacy row must go to the row's new key, not make the row again under the old one
 * (writeback/gone-rows.ts). Written in the same flush as the changes' jobs, so before the
 * source acknowledges them: once the slot is past a change, its move is here.
 *
 * One hash per source and topic (old key text → new key). A create of a key forgets its
 * move (the old key is a row again, another one), so an entry outlives its use only while the
 * old key stays free. Key changes are rare; the hash stays small.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { keyText, type ChangeEvent } from '@ficus/contracts';

const hashOf = (source: string, topic: string) => `ficus:cdc:key-moves:${source}:${topic}`;

/** Adds the moves (and the forgetting) of a flush's events, in their order, to `multi`; answers whether there was any. */
export function addKeyMoves(multi: ChainableCommander, events: Iterable<ChangeEvent>): boolean {
  const created = new Map<string, string[]>();
  let any = false;
  for (const e of events) {
    const hash = hashOf(e.source.name, e.topic);
    if (e.op === 'delete' && e.movedTo) {
      const forget = created.get(hash);
      if (forget?.length) multi.hdel(hash, ...forget.splice(0));
      multi.hset(hash, keyText(e.key), JSON.stringify(e.movedTo));
      any = true;
    } else if (e.op === 'create') {
      let list = created.get(hash);
      if (!list) created.set(hash, (list = []));
      list.push(keyText(e.key));
    }
  }
  // one HDEL per topic: a create is common, a move rare
  for (const [hash, keys] of created) {
    if (keys.length === 0) continue;
    multi.hdel(hash, ...keys);
    any = true;
  }
  return any;
}

/** The key the row of `key` moved to when CDC last read a key change of it, or undefined. */
export async function movedTo(redis: Redis, source: string, topic: string, key: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  const to = await redis.hget(hashOf(source, topic), keyText(key));
  return to === null ? undefined : (JSON.parse(to) as Record<string, unknown>);
}
