/**
 * Configuration from environment variables, validated and typed by one JSON schema per
 * deployable. Defaults work on a development machine; a bad value stops the process with the
 * variable's name and the reason.
 */
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { envSchema } from 'env-schema';

export function loadConfig<T extends TObject>(schema: T, env: NodeJS.ProcessEnv = process.env): Static<T> {
  return envSchema<Static<T>>({ schema, data: { ...env }, env: false, dotenv: false });
}

/** Helpers for the usual shapes of environment variables. */
export const Env = {
  port: (dflt: number, description: string) => Type.Integer({ minimum: 0, maximum: 65_535, default: dflt, description }),
  string: (dflt: string, description: string) => Type.String({ default: dflt, description }),
  optionalString: (description: string) => Type.Optional(Type.String({ description })),
  boolean: (dflt: boolean, description: string) => Type.Boolean({ default: dflt, description }),
  integer: (dflt: number, description: string, minimum = 0) => Type.Integer({ default: dflt, minimum, description }),
  level: () =>
    Type.Unsafe<'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'>({
      type: 'string',
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
    }),
};

export function configSchema<P extends TProperties>(properties: P) {
  return Type.Object(properties);
}
