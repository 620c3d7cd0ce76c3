import { describe, expect, it } from '@jest/globals';
import { connectRedis } from '@regatta/cache';
import { RateLimiter, shareOf } from './rate-limiter.js';

/** A Redis handle with no REDIS_URL: limits are kept per process. */
const noRedis = () =>
  connectRedis(undefined, { name: 't', logger: { info: () => undefined, warn: () => undefined } });

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
        redis: noRedis(),
      });
      const decision = await limiter.take('k', { ratePerS: 1, burst: 1 });
      expect(decision).toMatchObject({ allowed: true, backend: 'memory' });
      expect((await limiter.take('k', { ratePerS: 1, burst: 1 })).allowed).toBe(false);
      expect(limiter.status().status).toBe('degraded');
    });

    it("gives each of N gateways 1/N of a key's rate and burst while limits are per process", async () => {
      let now = 0;
      let gateways = 4;
      const limiter = new RateLimiter({
        redis: noRedis(),
        now: () => now,
        localShare: () => gateways,
      });
      const limit = { ratePerS: 8, burst: 12 };
      const burst = [];
      for (let i = 0; i < 4; i++) burst.push(await limiter.take('k', limit));
      expect(burst.map((d) => d.allowed)).toEqual([true, true, true, false]);
      expect(burst[0]).toMatchObject({ limit: 3, remaining: 2, backend: 'memory' });
      // 8/s over 4 gateways is 2/s here: one request every 500 ms.
      now += 499;
      expect((await limiter.take('k', limit)).allowed).toBe(false);
      now += 1;
      expect((await limiter.take('k', limit)).allowed).toBe(true);
      expect(limiter.status()).toEqual({
        status: 'degraded',
        detail: "REDIS_URL not set: per-process rate limits, 1/4 of each key's limit (4 gateways)",
      });
      // Alone again, the key gets its whole limit back.
      gateways = 1;
      now += 10_000;
      const alone = [];
      for (let i = 0; i < 13; i++) alone.push((await limiter.take('k', limit)).allowed);
      expect(alone.filter(Boolean)).toHaveLength(12);
      expect(limiter.status().detail).toBe('REDIS_URL not set: per-process rate limits');
    });
  });

  describe('shareOf', () => {
    it('divides rate and burst, and never gives less than one request of burst', () => {
      expect(shareOf({ ratePerS: 10, burst: 5 }, 1)).toEqual({ ratePerS: 10, burst: 5 });
      expect(shareOf({ ratePerS: 10, burst: 5 }, 2)).toEqual({ ratePerS: 5, burst: 2 });
      expect(shareOf({ ratePerS: 1, burst: 2 }, 3)).toEqual({ ratePerS: 1 / 3, burst: 1 });
    });
  });
});
