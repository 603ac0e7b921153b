/**
 * The key changes CDC has read (a row whose key a legacy screen changed: a delete carrying
 * `movedTo`), kept in Redis for the legacy writer: a write-back of the old key that finds no
 * legacy row must go to the row's new key, not make the row again under the old one
 * (writeback/gone-rows.ts). Written in the same flush as the changes' jobs, so before the
 * source acknowledges them: once the source is past a change, its move is here.
 *
 * One Redis key per move (old key text → new key), so that each expires on its own: the writer
 * is their only reader, and it needs a move only while a write-back of the old key written
 * before the service followed the move can still reach it: queued behind a backlog or a legacy
 * database that is down, waiting CDC_WRITEBACK_GONE_WAIT_MS, or dead-lettered and replayed,
 * which the services take as safe within SERVICE_DEDUP_RETENTION_DAYS (30 days). Hence a life
 * of CDC_KEY_MOVE_RETENTION_DAYS (30) plus the gone-row wait; patient-service follows a move
 * from the events themselves, never from here. A create of the old key forgets its move at
 * once (the old key is a row again, another one). Until 2026-12 the moves were one hash per
 * source and topic that never expired; `adoptHashedKeyMoves` turns those into entries of the
 * full life at start.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { keyText, type ChangeEvent } from '@ficus/contracts';

const DAY_MS = 86_400_000;

/** A move's life: the retention (days; 0 keeps it for ever, answered as null) plus the writer's gone-row wait. */
export function keyMoveTtlMs(retentionDays: number, goneWaitMs: number): number | null {
  return retentionDays > 0 ? retentionDays * DAY_MS + goneWaitMs : null;
}

export const DEFAULT_KEY_MOVE_TTL_MS = keyMoveTtlMs(30, 300_000)!;

const prefixOf = (source: string) => `ficus:cdc:key-move:${source}:`;
const entryOf = (source: string, topic: string, key: string) => `${prefixOf(source)}${topic}:${key}`;
/** the hash of the moves before they expired (one per source and topic) */
const hashOf = (source: string, topic: string) => `ficus:cdc:key-moves:${source}:${topic}`;

const setMove = (multi: ChainableCommander, entry: string, to: string, ttlMs: number | null) => (ttlMs === null ? multi.set(entry, to) : multi.set(entry, to, 'PX', ttlMs));

/**
 * Adds the moves (each to expire after `ttlMs`, null: never) and the forgetting of a
 * flush's events, in their order, to `multi`; answers whether there was any.
 */
export function addKeyMoves(multi: ChainableCommander, events: Iterable<ChangeEvent>, ttlMs: number | null = DEFAULT_KEY_MOVE_TTL_MS): boolean {
  const created: string[] = [];
  // a create (or a newer move) forgets the key's move in an older version's hash too: taken over
  // later (at a start, or while this flush runs), it would come back as a move of a key that is
  // a row again (or outlive the newer one)
  const forgetInHash = new Map<string, string[]>();
  let any = false;
  for (const e of events) {
    const key = keyText(e.key);
    const entry = entryOf(e.source.name, e.topic, key);
    if ((e.op === 'delete' && e.movedTo) || e.op === 'create') {
      const hash = hashOf(e.source.name, e.topic);
      const keys = forgetInHash.get(hash);
      if (keys) keys.push(key);
      else forgetInHash.set(hash, [key]);
    }
    if (e.op === 'delete' && e.movedTo) {
      // a create of this key earlier in the flush forgets an older move first, not this one
      if (created.length > 0) multi.del(...created.splice(0));
      setMove(multi, entry, JSON.stringify(e.movedTo), ttlMs);
      any = true;
    } else if (e.op === 'create') {
      created.push(entry);
    }
  }
  // one DEL per flush (and one HDEL per topic): a create is common, a move rare
  if (created.length > 0) multi.del(...created);
  for (const [hash, keys] of forgetInHash) multi.hdel(hash, ...keys);
  if (forgetInHash.size > 0) any = true;
  return any;
}

/**
 * The key the row of `key` moved to when CDC last read a key change of it (within the moves' life), or undefined.
 * A move an older version kept in its hash counts until the hash is taken over (the start takes
 * it over in the background, and a start that could not leaves it for the next).
 */
export async function movedTo(redis: Redis, source: string, topic: string, key: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  const text = keyText(key);
  const to = (await redis.get(entryOf(source, topic, text))) ?? (await redis.hget(hashOf(source, topic), text));
  return to === null ? undefined : (JSON.parse(to) as Record<string, unknown>);
}

const globEscaped = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&');

/**
 * One hash taken over at once (KEYS[1]; ARGV: the entries' prefix, the life in ms or ''): a
 * flush that ran between a read of the hash and the writing of its entries could have forgotten
 * a move (a create of its key) that would then be written back. A move already an entry is newer.
 */
const ADOPT_HASH = `
local moves = redis.call('HGETALL', KEYS[1])
for i = 1, #moves, 2 do
  if ARGV[2] == '' then
    redis.call('SET', ARGV[1] .. moves[i], moves[i + 1], 'NX')
  else
    redis.call('SET', ARGV[1] .. moves[i], moves[i + 1], 'PX', ARGV[2], 'NX')
  end
end
redis.call('DEL', KEYS[1])
return #moves / 2`;

/**
 * The moves an older version kept in one hash per topic (never expiring), made entries of the
 * full life from now (a move recorded since, by this version, is newer and stays), the hashes
 * then deleted. Answers how many moves were taken over.
 */
export async function adoptHashedKeyMoves(redis: Redis, source: string, ttlMs: number | null): Promise<number> {
  const prefix = hashOf(source, '');
  let adopted = 0;
  let cursor = '0';
  do {
    const [next, hashes] = await redis.scan(cursor, 'MATCH', `${globEscaped(prefix)}*`, 'COUNT', 100);
    cursor = next;
    for (const hash of hashes) {
      if ((await redis.type(hash)) !== 'hash') continue;
      const topic = hash.slice(prefix.length);
      adopted += Number(await redis.eval(ADOPT_HASH, 1, hash, entryOf(source, topic, ''), ttlMs === null ? '' : String(ttlMs)));
    }
  } while (cursor !== '0');
  return adopted;
}

/** For the tests and the operator: the Redis key a move of `key` is kept under. */
export const keyMoveEntry = (source: string, topic: string, key: Record<string, unknown>) => entryOf(source, topic, keyText(key));
