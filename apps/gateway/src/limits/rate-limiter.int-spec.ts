import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type RedisHandle, connectRedis } from '@regatta/cache';
import { eventually, PrivateServer, serviceUrls, TcpFaultProxy, uniqueName } from '@regatta/testing';
import { RateLimiter } from './rate-limiter.js';

const SHARED = serviceUrls();

const quiet = { info: () => undefined, warn: () => undefined };

describe('RateLimiter with Redis', () => {
  describe('on the shared Redis', () => {
    let a: RedisHandle;
    let b: RedisHandle;
    const prefix = `regatta:test:${uniqueName('rl')}:`;

    beforeAll(async () => {
      a = connectRedis(SHARED.redis, { name: 'rl-a', logger: quiet });
      b = connectRedis(SHARED.redis, { name: 'rl-b', logger: quiet });
      await eventually(() => a.client() !== undefined && b.client() !== undefined, 'Redis');
    });
    afterAll(async () => {
      const keys = (await a.client()?.keys(`${prefix}*`)) ?? [];
      if (keys.length > 0) await a.client()?.del(keys);
      await Promise.all([a.close(), b.close()]);
    });

    it('shares one limit per key between gateways', async () => {
      const gatewayA = new RateLimiter({ redis: a, prefix });
      const gatewayB = new RateLimiter({ redis: b, prefix });
      const limit = { ratePerS: 1, burst: 4 };
      const outcomes: boolean[] = [];
      for (let i = 0; i < 6; i++)
        outcomes.push((await (i % 2 ? gatewayB : gatewayA).take('key_1', limit)).allowed);
      expect(outcomes).toEqual([true, true, true, true, false, false]);
      const refused = await gatewayA.take('key_1', limit);
      expect(refused).toMatchObject({
        allowed: false,
        backend: 'redis',
        limit: 4,
        remaining: 0,
        retryAfterS: 1,
      });
      expect((await gatewayB.take('key_2', limit)).remaining).toBe(3);
      expect(gatewayA.status()).toEqual({ status: 'ok' });
    });

    it('refills at the key rate', async () => {
      const limiter = new RateLimiter({ redis: a, prefix });
      const limit = { ratePerS: 20, burst: 2 };
      expect((await limiter.take('key_3', limit)).allowed).toBe(true);
      expect((await limiter.take('key_3', limit)).allowed).toBe(true);
      expect((await limiter.take('key_3', limit)).allowed).toBe(false);
      await new Promise((r) => setTimeout(r, 60));
      expect((await limiter.take('key_3', limit)).allowed).toBe(true);
    });

    it('expires idle keys', async () => {
      const limiter = new RateLimiter({ redis: a, prefix });
      await limiter.take('key_4', { ratePerS: 100, burst: 1 });
      const ttl = await a.client()!.pttl(`${prefix}key_4`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(12);
    });
  });

  describe('when Redis goes down', () => {
    let redis: PrivateServer;
    let handle: RedisHandle;

    beforeAll(async () => {
      redis = await PrivateServer.start('redis');
      handle = connectRedis(redis.url, { name: 'rl-own', logger: quiet, maxReconnectDelayMs: 100 });
      await eventually(() => handle.client() !== undefined, 'own Redis');
    });
    afterAll(async () => {
      await handle.close();
      await redis.kill();
    });

    it('limits in process, says degraded, and goes back to Redis when it returns', async () => {
      const limiter = new RateLimiter({ redis: handle });
      const limit = { ratePerS: 0.01, burst: 2 };
      expect((await limiter.take('k', limit)).backend).toBe('redis');

      await redis.kill();
      await eventually(() => handle.client() === undefined, 'the client to notice');
      const during = [
        await limiter.take('k', limit),
        await limiter.take('k', limit),
        await limiter.take('k', limit),
      ];
      expect(during.map((d) => d.backend)).toEqual(['memory', 'memory', 'memory']);
      expect(during.map((d) => d.allowed)).toEqual([true, true, false]);
      expect(limiter.status().status).toBe('degraded');

      await redis.restart();
      await eventually(() => handle.client() !== undefined, 'reconnection');
      const after = await limiter.take('k', limit);
      expect(after.backend).toBe('redis');
      expect(limiter.status()).toEqual({ status: 'ok' });
    });
  });

  describe('when Redis stops answering (a partition)', () => {
    it('pays one command timeout, limits in process, and reports ok once a new link is up, before any request', async () => {
      const proxy = await TcpFaultProxy.forUrl(SHARED.redis).start();
      const handle = connectRedis(proxy.urlFor(SHARED.redis), {
        name: 'rl-partition',
        logger: quiet,
        commandTimeoutMs: 100,
        connectTimeoutMs: 300,
        maxReconnectDelayMs: 100,
      });
      try {
        await eventually(() => handle.client() !== undefined, 'Redis through the proxy');
        const limiter = new RateLimiter({
          redis: handle,
          prefix: `regatta:test:${uniqueName('rl_partition')}:`,
        });
        const limit = { ratePerS: 100, burst: 100 };
        expect((await limiter.take('k', limit)).backend).toBe('redis');

        proxy.blackhole();
        const timedOut = await limiter.take('k', limit);
        expect(timedOut).toMatchObject({ allowed: true, backend: 'memory' });
        expect(limiter.status().status).toBe('degraded');
        const started = performance.now();
        for (let i = 0; i < 10; i++) expect((await limiter.take('k', limit)).backend).toBe('memory');
        expect(performance.now() - started).toBeLessThan(100); // no request waits for the silent link

        proxy.restore();
        await eventually(() => limiter.status().status === 'ok', 'the limiter to report ok', 10_000);
        expect((await limiter.take('k', limit)).backend).toBe('redis');
      } finally {
        await handle.close();
        await proxy.stop();
      }
    });
  });
});
