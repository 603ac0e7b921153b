/**
 * A compiled check of a TypeBox schema (Ajv), answering the first problem in words: for
 * envelopes and jobs that arrive from a queue, where a bad one is dead-lettered with its reason.
 */
import { Ajv } from 'ajv';
import type { TSchema } from '@sinclair/typebox';

const ajv = new Ajv({ allErrors: false, strict: true });

export function schemaCheck(schema: TSchema, what: string): (value: unknown) => string | undefined {
  const check = ajv.compile(schema);
  return (value) => {
    if (check(value)) return undefined;
    const e = check.errors?.[0];
    return e ? `${e.instancePath || '/'}: ${e.message ?? 'invalid'}` : `not ${what}`;
  };
}
