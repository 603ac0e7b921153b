/**
 * One synthetic patient's demographics. Everything comes from the PRNG and the fixed
 * reference time, never from the clock, so a seed always produces the same people.
 */
import { formatDate, formatTimestamp, MINUTES_PER_DAY, toMinutes } from './legacy-time.js';
import { CITIES, FEMALE_FIRST_NAMES, LAST_NAMES, MALE_FIRST_NAMES, STREET_NAMES, STREET_SUFFIXES } from './name-lists.js';
import type { Prng } from './prng.js';
import type { PatientRow } from './synthetic-rows.js';

/** "now" in the synthetic hospital: the moment the seed data describes */
export const WORLD_NOW = toMinutes('2024-07-01 08:00');
const FIRST_REGISTRATION = toMinutes('2004-01-05 00:00');
/** records older than this were loaded by the 2009 data conversion */
const CONVERSION_DATE = toMinutes('2009-06-01 00:00');
const REGISTRATION_USERS = ['REGCLK01', 'REGCLK02', 'REGCLK07', 'EDREG03', 'ADT_IFACE'];

const AGE_BANDS: readonly (readonly [readonly [number, number], number])[] = [
  [[0, 17], 15],
  [[18, 44], 30],
  [[45, 64], 27],
  [[65, 84], 22],
  [[85, 100], 6],
];

export interface GeneratedPatient {
  row: PatientRow;
  /** minutes, for the admissions that follow */
  registeredAt: number;
  ageYears: number;
}

export function generatePatient(rng: Prng, index: number): GeneratedPatient {
  const sex = rng.weighted<'M' | 'F' | 'U'>([['M', 49], ['F', 49], ['U', 2]]);
  const firstName = rng.pick(sex === 'F' ? FEMALE_FIRST_NAMES : sex === 'M' ? MALE_FIRST_NAMES : rng.chance(0.5) ? FEMALE_FIRST_NAMES : MALE_FIRST_NAMES);
  const lastName = rng.pick(LAST_NAMES);
  const middleName = middleNameFor(rng, sex);

  const [minAge, maxAge] = rng.weighted(AGE_BANDS);
  const ageYears = rng.int(minAge, maxAge);
  const dobMinutes = WORLD_NOW - Math.floor((ageYears * 365.25 + rng.int(2, 364)) * MINUTES_PER_DAY);

  // registered at some visit since the hospital went live; the youngest at birth
  const earliest = Math.max(FIRST_REGISTRATION, dobMinutes + MINUTES_PER_DAY);
  const latest = WORLD_NOW - 30 * MINUTES_PER_DAY;
  const registeredAt = earliest < latest ? rng.int(earliest, latest) : rng.int(dobMinutes + 60, WORLD_NOW - 60);
  const lastUpdated = rng.chance(0.5) ? registeredAt : rng.int(registeredAt, Math.max(registeredAt, WORLD_NOW - MINUTES_PER_DAY));

  const [city, state, zip3, areaCode] = rng.pick(CITIES);
  const hasAddress = rng.chance(0.97);
  const row: PatientRow = {
    patId: index + 1,
    mrn: String(100_001 + index),
    lastName,
    firstName,
    middleName,
    dob: formatDate(dobMinutes),
    sex,
    addrLine1: hasAddress ? `${rng.int(1, 9899)} ${rng.pick(STREET_NAMES)} ${rng.pick(STREET_SUFFIXES)}` : null,
    city: hasAddress ? city : null,
    state: hasAddress ? state : null,
    zip: hasAddress ? zip3 + String(rng.int(1, 99)).padStart(2, '0') : null,
    phone: rng.chance(0.9) ? `${areaCode}-555-01${String(rng.int(0, 99)).padStart(2, '0')}` : null,
    marital: ageYears < 18 ? 'S' : rng.weighted<string | null>([['M', 45], ['S', 30], ['D', 10], ['W', 7], ['A', 2], ['U', 3], [null, 3]]),
    active: rng.chance(0.985) ? 'Y' : 'N',
    createDt: formatTimestamp(registeredAt),
    lastUpdDt: formatTimestamp(lastUpdated),
    lastUpdUser: registeredAt < CONVERSION_DATE && lastUpdated === registeredAt ? 'CONV2009' : rng.pick(REGISTRATION_USERS),
  };
  return { row, registeredAt, ageYears };
}

function middleNameFor(rng: Prng, sex: string): string | null {
  const roll = rng.next();
  if (roll < 0.35) return null;
  const name = rng.pick(sex === 'F' ? FEMALE_FIRST_NAMES : MALE_FIRST_NAMES);
  // half of the old registrations kept only the initial
  return roll < 0.7 ? name.charAt(0) : name;
}
