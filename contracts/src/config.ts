/**
 * Configuration from environment variables, validated and typed by one JSON schema per
 * deployable. Defaults work on a development machine; a bad value stops the process with the
 * variable's name and the reason, every wrong variable at once, and never the value of one that
 * may hold a secret.
 */
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { envSchema } from 'env-schema';
import { pino } from 'pino';

/** What env-schema's validator (ajv) says about one variable. */
interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/** Settings refused at start: one line per wrong variable, in `problems`. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig<T extends TObject>(schema: T, env: NodeJS.ProcessEnv = process.env): Static<T> {
  try {
    return envSchema<Static<T>>({ schema, data: { ...env }, env: false, dotenv: false });
  } catch (e) {
    const errors = (e as { errors?: SchemaError[] }).errors;
    if (!Array.isArray(errors) || errors.length === 0) throw e;
    throw new ConfigError(describeSchemaErrors(errors, env));
  }
}

/**
 * The entry point's config: on a ConfigError, one fatal JSON log line (for the log collector)
 * and the problems on stderr (for the person at the terminal), then exit 1, without the stack
 * trace an uncaught error would print. Both writes are synchronous, so nothing is lost to the
 * exit.
 */
export function configOrExit<C>(service: string, load: () => C): C {
  try {
    return load();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const log = pino(
      { base: { service }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
      pino.destination({ dest: 1, sync: true }),
    );
    log.fatal({ problems: e.problems }, `${service} refused its configuration`);
    process.stderr.write(`${service}: invalid configuration\n${e.problems.map((p) => `  ${p}\n`).join('')}`);
    process.exit(1);
  }
}

// a value is repeated in the message only when its variable cannot hold a secret or a password
const MAY_HOLD_SECRET = /TOKEN|SECRET|PASSWORD|PASSWD|KEY|URL|DSN|CONNECTION|CREDENTIAL/i;

function describeSchemaErrors(errors: SchemaError[], env: NodeJS.ProcessEnv): string[] {
  const problems = errors.map((error) => {
    const name = error.keyword === 'required' ? String(error.params.missingProperty) : error.instancePath.replace(/^\//, '');
    if (name === '') return `the settings as a whole: ${error.message ?? error.keyword}`;
    const raw = env[name];
    const shown = raw === undefined || MAY_HOLD_SECRET.test(name) || raw.length > 60 ? '' : ` (it is ${JSON.stringify(raw)})`;
    return `${name}: ${reason(error)}${shown}`;
  });
  return [...new Set(problems)];
}

function reason(error: SchemaError): string {
  const p = error.params;
  switch (error.keyword) {
    case 'required':
      return 'must be set';
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'type':
      return p.type === 'integer' ? 'must be a whole number' : p.type === 'boolean' ? 'must be true or false' : `must be a ${String(p.type)}`;
    case 'minimum':
      return `must be at least ${String(p.limit)}`;
    case 'maximum':
      return `must be at most ${String(p.limit)}`;
    default:
      return error.message ?? error.keyword;
  }
}

/** Helpers for the usual shapes of environment variables. */
export const Env = {
  port: (dflt: number, description: string) => Type.Integer({ minimum: 0, maximum: 65_535, default: dflt, description }),
  string: (dflt: string, description: string) => Type.String({ default: dflt, description }),
  optionalString: (description: string) => Type.Optional(Type.String({ description })),
  boolean: (dflt: boolean, description: string) => Type.Boolean({ default: dflt, description }),
  integer: (dflt: number, description: string, minimum = 0) => Type.Integer({ default: dflt, minimum, description }),
  /**
   * FICUS_RULES_SETTLE_MS of every deployable that reads rule files: the default is the file
   * source's; the maximum also bounds the wait for a folder that keeps changing (30 times it),
   * where minutes would leave a fix unread that long.
   */
  ruleFilesSettleMs: (dflt: number) =>
    Type.Integer({
      default: dflt,
      minimum: 50,
      maximum: 10_000,
      description: 'files: a change is read once the rule folder has stayed the same this long (a file written in steps is not applied half-written)',
    }),
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
