/**
 * Schema building blocks of the legacy contract. Query and path values arrive as strings and
 * are validated as strings (no type coercion): the legacy contract is exact about what it
 * accepts, and a replacement service must accept precisely the same inputs and refuse the
 * rest with the same fields named.
 */
import { Type, type SchemaOptions, type Static, type TSchema } from '@sinclair/typebox';
import { MRN_PATTERN } from '@ficus/hl7-protocol';

/** a value that may also be null (ajv's "nullable" keyword keeps error messages simple) */
export function Nullable<T extends TSchema>(schema: T) {
  return Type.Unsafe<T['static'] | null>({ ...schema, nullable: true });
}

/** an enumeration of string codes */
export function Codes<const V extends readonly string[]>(values: V, options: SchemaOptions = {}) {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...options });
}

export function NullableCodes<const V extends readonly string[]>(values: V) {
  return Type.Unsafe<V[number] | null>({ type: 'string', enum: [...values, null], nullable: true });
}

/** MRN: 6 to 10 digits, as the registration system issues them (the HL7 interpretation reads PID-3 by the same rule) */
export const Mrn = Type.String({ pattern: MRN_PATTERN.source, description: 'a medical record number of 6 to 10 digits' });

/** a calendar date, checked for real days (2023-02-30 is refused) */
export const CalendarDate = Type.String({ format: 'date', description: 'a date YYYY-MM-DD' });

export const MrnQuery = Type.Object({ mrn: Mrn });
export type MrnQuery = Static<typeof MrnQuery>;
