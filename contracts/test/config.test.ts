import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ConfigError, Env, configSchema, loadConfig } from '../src/config.js';

const schema = configSchema({
  PORT: Env.port(8080, 'port'),
  MODE: Type.Unsafe<'keep' | 'decode'>({ type: 'string', enum: ['keep', 'decode'], default: 'keep' }),
  POLL_MS: Env.integer(5_000, 'poll', 100),
  ENABLED: Env.boolean(true, 'on'),
  ADMIN_TOKEN: Type.Unsafe<string>({ type: 'string', minLength: 16 }),
  DATABASE_URL: Env.optionalString('db'),
  LOG_LEVEL: Env.level(),
});

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(schema, { ADMIN_TOKEN: 'a-good-long-token-value', ...env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('the settings were taken');
}

describe('loadConfig', () => {
  it('gives typed values and defaults', () => {
    const config = loadConfig(schema, { ADMIN_TOKEN: 'a-good-long-token-value', PORT: '9000', ENABLED: 'false' });
    expect(config).toMatchObject({ PORT: 9000, MODE: 'keep', POLL_MS: 5_000, ENABLED: false, LOG_LEVEL: 'info' });
  });

  it('names each wrong variable with its reason, all at once', () => {
    expect(problemsOf({ PORT: 'eighty', MODE: 'yes', POLL_MS: '5', ENABLED: 'perhaps', LOG_LEVEL: 'loud' })).toEqual([
      'PORT: must be a whole number (it is "eighty")',
      'MODE: must be one of keep, decode (it is "yes")',
      'POLL_MS: must be at least 100 (it is "5")',
      'ENABLED: must be true or false (it is "perhaps")',
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (it is "loud")',
    ]);
    expect(problemsOf({ PORT: '70000' })).toEqual(['PORT: must be at most 65535 (it is "70000")']);
  });

  it('says a required variable is missing', () => {
    expect(() => loadConfig(schema, {})).toThrow('invalid configuration: ADMIN_TOKEN: must be set');
  });

  it('never repeats the value of a variable that may hold a secret', () => {
    const problems = problemsOf({ ADMIN_TOKEN: 'short-secret' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^ADMIN_TOKEN: /);
    expect(problems[0]).not.toContain('short-secret');
  });
});
