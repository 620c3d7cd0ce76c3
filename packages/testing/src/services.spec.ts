import { describe, expect, it } from '@jest/globals';
import { DEFAULT_SERVICE_URLS, serviceUrls, uniqueName } from './services.js';

describe('serviceUrls', () => {
  it('uses the local defaults when the variables are unset or blank', () => {
    expect(serviceUrls({ REDIS_URL: '  ' })).toEqual(DEFAULT_SERVICE_URLS);
    expect(DEFAULT_SERVICE_URLS.database).toBe('postgres://postgres@127.0.0.1:5432/test');
  });

  it('takes each URL from its environment variable', () => {
    expect(
      serviceUrls({ NATS_URL: 'nats://n:1', REDIS_URL: 'redis://r:2', DATABASE_URL: 'postgres://p@d:3/x' }),
    ).toEqual({ nats: 'nats://n:1', redis: 'redis://r:2', database: 'postgres://p@d:3/x' });
  });
});

describe('uniqueName', () => {
  it('returns distinct lower-case SQL-safe names that start with the prefix', () => {
    const names = new Set(Array.from({ length: 100 }, () => uniqueName('Decision_Log')));
    expect(names.size).toBe(100);
    for (const name of names) {
      expect(name).toMatch(/^decision_log_[a-z0-9_]+$/);
      expect(name.length).toBeLessThanOrEqual(63);
    }
  });

  it('rejects a prefix that is not a plain identifier', () => {
    expect(() => uniqueName('drop table;')).toThrow(/uniqueName prefix must start with a letter/);
    expect(() => uniqueName('1abc')).toThrow(/start with a letter/);
  });
});
