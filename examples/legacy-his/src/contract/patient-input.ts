/**
 * Turns a validated request body into what a store writes, with the checks a JSON schema
 * cannot express, and decides who is recorded as the last updater.
 */
import type { FastifyRequest } from 'fastify';
import { LegacyError, type ErrorDetail } from './errors.js';
import type { PatientFields, PatientInput } from './patient-schemas.js';

const OLDEST_BIRTH_DATE = '1880-01-01';
/** recorded as the last updater (LAST_UPD_USER) when the caller does not say who it is */
export const DEFAULT_API_USER = 'HISAPI';
/** the last updater of everything the ADT interface writes (the seed's registrations use it too) */
export const ADT_USER = 'ADT_IFACE';

const upper = (s: string | null | undefined) => (s == null ? null : s.trim().toUpperCase());

/** today's date on the hospital's (the server's) wall clock */
function today(): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function toPatientFields(input: PatientInput, pathMrn?: string): PatientFields {
  const problems: ErrorDetail[] = [];
  if (input.dateOfBirth > today()) problems.push({ field: 'dateOfBirth', issue: 'must not be in the future' });
  if (input.dateOfBirth < OLDEST_BIRTH_DATE) problems.push({ field: 'dateOfBirth', issue: `must not be before ${OLDEST_BIRTH_DATE}` });
  if (input.mrn !== undefined && input.mrn !== pathMrn) {
    problems.push({ field: 'mrn', issue: pathMrn ? 'must match the MRN in the path' : 'is assigned by the system and must not be sent' });
  }
  if (problems.length > 0) throw new LegacyError(400, 'Invalid request body', problems);

  const address = input.address ?? {};
  return {
    lastName: input.lastName.trim().toUpperCase(),
    firstName: input.firstName.trim().toUpperCase(),
    middleName: upper(input.middleName),
    dateOfBirth: input.dateOfBirth,
    sex: input.sex,
    line1: upper(address.line1),
    city: upper(address.city),
    state: upper(address.state),
    zip: address.zip ?? null,
    phone: input.phone ?? null,
    maritalStatus: input.maritalStatus ?? null,
    active: input.active !== false,
  };
}

/** the X-User-Id header (an operator or interface id), else the API's own user */
export function updatingUser(request: FastifyRequest): string {
  const header = request.headers['x-user-id'];
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[A-Za-z0-9._-]{1,30}$/.test(value) ? value.toUpperCase() : DEFAULT_API_USER;
}
