import { describe, expect, it } from '@jest/globals';
import { connectRedis } from './redis.js';
import { recordingLogger } from './testing/metrics.js';
import { TwoTierCache } from './two-tier-cache.js';

describe(connectRedis.name, () => {
  describe('without a URL', () => {
    it('runs in-process only, reports degraded and says so once', async () => {
      const logger = recordingLogger();
      const handle = connectRedis(undefined, { name: 'unit', logger });
      expect(handle.configured).toBe(false);
      expect(handle.client()).toBeUndefined();
      expect(handle.status()).toEqual({
        status: 'degraded',
        detail: 'REDIS_URL not set: in-process cache only',
      });

      const cache = new TwoTierCache<number>({
        name: 'no-url',
        maxEntries: 10,
        ttlMs: 1_000,
        redis: handle,
        logger,
      });
      for (let i = 0; i < 5; i++) expect(await cache.getOrLoad('k', () => Promise.resolve(i))).toBe(0);
      expect(logger.lines).toEqual([{ level: 'info', msg: 'REDIS_URL not set: in-process cache only' }]);
      await handle.close();
    });
  });
});
