import { describe, expect, it } from '@jest/globals';
import { connectRedis } from '@regatta/cache';
import { RateLimiter } from './rate-limiter.js';

describe(RateLimiter.name, () => {
  describe('takeLocal', () => {
    it('lets a burst through, then one request per interval', () => {
      let now = 0;
      const limiter = new RateLimiter({ now: () => now });
      const limit = { ratePerS: 10, burst: 5 };
      const burst = Array.from({ length: 6 }, () => limiter.takeLocal('k', limit));
      expect(burst.map((d) => d.allowed)).toEqual([true, true, true, true, true, false]);
      expect(burst.map((d) => d.remaining)).toEqual([4, 3, 2, 1, 0, 0]);
      expect(burst[5]!.retryAfterS).toBe(1);
      now += 100;
      expect(limiter.takeLocal('k', limit).allowed).toBe(true);
      expect(limiter.takeLocal('k', limit).allowed).toBe(false);
      now += 1_000;
      const refilled = limiter.takeLocal('k', limit);
      expect(refilled.remaining).toBe(4);
    });

    it('says how long until the next request passes', () => {
      const limiter = new RateLimiter({ now: () => 0 });
      const limit = { ratePerS: 0.2, burst: 1 };
      expect(limiter.takeLocal('k', limit).allowed).toBe(true);
      const refused = limiter.takeLocal('k', limit);
      expect(refused).toMatchObject({ allowed: false, retryAfterS: 5, resetS: 5, limit: 1, remaining: 0 });
    });

    it('keeps at most maxLocalKeys keys', () => {
      let now = 0;
      const limiter = new RateLimiter({ now: () => now, maxLocalKeys: 10 });
      for (let i = 0; i < 50; i++) {
        now += 1_000;
        limiter.takeLocal(`k${i}`, { ratePerS: 1, burst: 1 });
      }
      // The most recent key is still limited; it was not evicted.
      expect(limiter.takeLocal('k49', { ratePerS: 1, burst: 1 }).allowed).toBe(false);
    });
  });

  describe('take', () => {
    it('limits in process and says degraded without Redis', async () => {
      const limiter = new RateLimiter({
        redis: connectRedis(undefined, {
          name: 't',
          logger: { info: () => undefined, warn: () => undefined },
        }),
      });
      const decision = await limiter.take('k', { ratePerS: 1, burst: 1 });
      expect(decision).toMatchObject({ allowed: true, backend: 'memory' });
      expect((await limiter.take('k', { ratePerS: 1, burst: 1 })).allowed).toBe(false);
      expect(limiter.status().status).toBe('degraded');
    });
  });
});
