/**
 * Record references that are no PHI: an MRN (or a row id) becomes a short, stable hash, so
 * two runs, or a report and a later `--show-phi` run, can be matched without printing the
 * identifier. An MRN has few digits: anyone can hash them all and read a plain hash back, so
 * when a report leaves the team, set FICUS_RECONCILE_KEY: the hash becomes an HMAC under
 * that key, and without the key it says nothing.
 */
import { createHash, createHmac } from 'node:crypto';

export type Pseudonymise = (kind: 'mrn' | 'id', value: string) => string;

const LENGTH = 12;

export function pseudonymiser(key: string | undefined): Pseudonymise {
  return (kind, value) => {
    const text = `ficus-reconcile:${kind}:${value}`;
    const h = key ? createHmac('sha256', key).update(text) : createHash('sha256').update(text);
    return h.digest('hex').slice(0, LENGTH);
  };
}
