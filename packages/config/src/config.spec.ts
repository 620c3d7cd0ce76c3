import { describe, expect, it } from '@jest/globals';
import { commonEnv, databaseEnv } from './common.js';
import { ConfigError, defineEnv, describeEnv, loadConfig } from './config.js';
import { REPO_ROOT, env } from './types.js';

describe(loadConfig.name, () => {
  it('applies documented defaults when nothing is set', () => {
    const config = loadConfig(commonEnv, {});
    expect(config.NATS_URL).toBe('nats://127.0.0.1:4222');
    expect(config.LOG_LEVEL).toBe('info');
    expect(config.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
  });

  it('names every bad variable in one error', () => {
    let caught: unknown;
    try {
      loadConfig(
        { ...commonEnv, ...databaseEnv },
        { NATS_URL: 'not-a-url', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' },
      );
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).message;
    expect(message).toContain('NATS_URL');
    expect(message).toContain('not-a-url');
    expect(message).toContain('DATABASE_URL');
    expect(message).toContain('LOG_LEVEL');
    expect((caught as ConfigError).problems.map((p) => p.variable).sort()).toEqual([
      'DATABASE_URL',
      'LOG_LEVEL',
      'NATS_URL',
    ]);
  });

  it('coerces numbers and booleans and rejects out-of-range values', () => {
    const spec = defineEnv({
      PORT: { schema: env.port(8080), doc: 'p' },
      ON: { schema: env.bool(false), doc: 'b' },
    });
    expect(loadConfig(spec, { PORT: '9000', ON: 'yes' })).toEqual({ PORT: 9000, ON: true });
    expect(() => loadConfig(spec, { PORT: '70000' })).toThrow(/PORT/);
    expect(() => loadConfig(spec, { ON: 'maybe' })).toThrow(/ON: must be true or false/);
  });

  it('accepts a comma-separated NATS cluster', () => {
    expect(loadConfig(commonEnv, { NATS_URL: 'nats://a:4222,nats://b:4222' }).NATS_URL).toBe(
      'nats://a:4222,nats://b:4222',
    );
  });
});

describe(describeEnv.name, () => {
  it('lists defaults and required variables', () => {
    const rows = describeEnv(
      defineEnv({ A: { schema: env.int(3), doc: 'a' }, B: { schema: env.redisUrl(), doc: 'b' } }),
    );
    expect(rows).toEqual([
      { variable: 'A', default: '3', doc: 'a' },
      { variable: 'B', default: '(required)', doc: 'b' },
    ]);
  });
});

describe('env.path', () => {
  it('takes relative paths from the repository root and keeps absolute ones', () => {
    const spec = defineEnv({ DIR: { schema: env.path('.regatta/data'), doc: 'd' } });
    expect(loadConfig(spec, {}).DIR).toBe(`${REPO_ROOT}/.regatta/data`);
    expect(loadConfig(spec, { DIR: 'models' }).DIR).toBe(`${REPO_ROOT}/models`);
    expect(loadConfig(spec, { DIR: '/srv/models' }).DIR).toBe('/srv/models');
    expect(describeEnv(spec)[0]!.default).toBe('".regatta/data"');
  });
});
