/**
 * The legacy system keeps local wall-clock time with no zone (TIMESTAMP(0)). The seed works
 * in whole minutes counted from 1970-01-01 00:00 on that wall clock and formats them with UTC
 * arithmetic, so the output never depends on the time zone of the machine running the seed.
 */
const MS_PER_MINUTE = 60_000;
export const MINUTES_PER_DAY = 1440;

/** minutes since 1970-01-01 00:00 for a 'YYYY-MM-DD HH:MM' wall-clock time */
export function toMinutes(wallClock: string): number {
  const ms = Date.parse(wallClock.replace(' ', 'T') + ':00Z');
  if (Number.isNaN(ms)) throw new Error(`not a wall-clock time: ${wallClock}`);
  return ms / MS_PER_MINUTE;
}

/** 'YYYY-MM-DD HH:MM:SS' */
export function formatTimestamp(minutes: number): string {
  return new Date(minutes * MS_PER_MINUTE).toISOString().slice(0, 19).replace('T', ' ');
}

/** 'YYYY-MM-DD' of the day containing the given minute */
export function formatDate(minutes: number): string {
  return new Date(minutes * MS_PER_MINUTE).toISOString().slice(0, 10);
}
