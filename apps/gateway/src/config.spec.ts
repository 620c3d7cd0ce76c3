import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '@regatta/config';
import { DEV_ADMIN_KEY, adminKeyOf, checkGatewayConfig, gatewayEnv } from './config.js';

const KEY = 'rg_a_configured_admin_key_of_40_characters';

function problems(env: Record<string, string>, mode: 'embedded' | 'distributed' = 'distributed'): string[] {
  try {
    checkGatewayConfig(loadConfig(gatewayEnv, env), mode);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.variable}: ${p.message}`);
  }
}

describe(checkGatewayConfig.name, () => {
  it('accepts the defaults in development, with the development admin key', () => {
    expect(problems({})).toEqual([]);
    expect(adminKeyOf(loadConfig(gatewayEnv, {}))).toEqual({ key: DEV_ADMIN_KEY, development: true });
  });

  it('refuses to start in staging or production without an admin key, or with the public one', () => {
    expect(problems({ ENVIRONMENT: 'production' })).toEqual([
      'REGATTA_ADMIN_KEY: required when ENVIRONMENT=production',
    ]);
    expect(problems({ ENVIRONMENT: 'staging', REGATTA_ADMIN_KEY: DEV_ADMIN_KEY })[0]).toContain('public');
    expect(problems({ ENVIRONMENT: 'production', REGATTA_ADMIN_KEY: KEY })).toEqual([]);
  });

  it('refuses a short admin key', () => {
    expect(problems({ REGATTA_ADMIN_KEY: 'short' })).toEqual([
      'REGATTA_ADMIN_KEY: must be at least 32 characters',
    ]);
  });

  it('refuses `*` with credentials and malformed origins', () => {
    expect(problems({ CORS_ORIGINS: '*', CORS_CREDENTIALS: 'true' })).toEqual([
      'CORS_ORIGINS: `*` cannot be used with CORS_CREDENTIALS=true',
    ]);
    expect(() =>
      loadConfig(gatewayEnv, { CORS_ORIGINS: 'https://ok.example.com, https://bad.example.com/path' }),
    ).toThrow('https://bad.example.com/path');
    expect(
      loadConfig(gatewayEnv, { CORS_ORIGINS: 'https://a.example.com, http://localhost:5173' }).CORS_ORIGINS,
    ).toEqual(['https://a.example.com', 'http://localhost:5173']);
  });

  it('needs Postgres and NATS for several workers', () => {
    expect(problems({ GATEWAY_WORKERS: '2' })).toEqual(['DATABASE_URL: required when GATEWAY_WORKERS > 1']);
    expect(problems({ GATEWAY_WORKERS: '2', DATABASE_URL: 'postgres://localhost/x' }, 'embedded')).toEqual([
      'GATEWAY_WORKERS: cluster mode needs the distributed fleet (NATS)',
    ]);
    expect(problems({ GATEWAY_WORKERS: '2', DATABASE_URL: 'postgres://localhost/x' })).toEqual([]);
  });
});
