import { randomInt } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * A fresh message control id for MSH-10: 20 characters, the most MSH-10 may hold up to v2.6,
 * made of letters and digits only so that it never needs escaping. 9 base-36 characters of
 * milliseconds since 1970 (ordered by time, good until the year 5188) and 11 random ones from
 * the crypto generator (about 65 bits), so two ids made in the same millisecond, in any process
 * on any instance, collide with a probability of about 2^-65.
 */
export function newControlId(now: number = Date.now()): string {
  let id = now.toString(36).padStart(9, '0').slice(-9);
  for (let i = 0; i < 11; i++) id += ALPHABET.charAt(randomInt(ALPHABET.length));
  return id;
}
