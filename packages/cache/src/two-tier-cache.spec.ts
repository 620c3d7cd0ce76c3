import { describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import type { CacheCodec } from './codec.js';
import { FakeRedisServer } from './testing/fake-redis.js';
import { counterValue, recordingLogger } from './testing/metrics.js';
import { TwoTierCache, type TwoTierCacheOptions } from './two-tier-cache.js';

let seq = 0;
// A distinct cache name per test keeps metric series apart.
function cache<V>(options: Partial<TwoTierCacheOptions<V>> = {}): TwoTierCache<V> {
  return new TwoTierCache<V>({
    name: `unit-${++seq}`,
    maxEntries: 100,
    ttlMs: 60_000,
    logger: recordingLogger(),
    ...options,
  });
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe(TwoTierCache.name, () => {
  describe('get / set', () => {
    it('returns what was set, and undefined for a key never set', async () => {
      const c = cache<{ score: number }>();
      await c.set('a', { score: 1 });
      expect(await c.get('a')).toEqual({ score: 1 });
      expect(await c.get('b')).toBeUndefined();
    });

    it('evicts the least recently used entry once maxEntries is reached', async () => {
      const c = cache<number>({ maxEntries: 2 });
      await c.set('a', 1);
      await c.set('b', 2);
      await c.get('a'); // a is now the most recently used
      await c.set('c', 3);
      expect(await c.get('a')).toBe(1);
      expect(await c.get('b')).toBeUndefined();
      expect(await c.get('c')).toBe(3);
      expect(c.memorySize).toBe(2);
    });

    it('expires entries after the default TTL and after a per-call TTL', async () => {
      let now = 1_000;
      const c = cache<string>({ ttlMs: 1_000, clock: () => now });
      await c.set('default', 'x');
      await c.set('short', 'y', 100);
      now += 99;
      expect(await c.get('short')).toBe('y');
      now += 2;
      expect(await c.get('short')).toBeUndefined();
      expect(await c.get('default')).toBe('x');
      now += 900;
      expect(await c.get('default')).toBeUndefined();
    });

    it('rejects undefined values and non-positive TTLs with INVALID_ARGUMENT', async () => {
      const c = cache<number | undefined>();
      await expect(c.set('k', undefined)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(c.set('k', 1, 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(() => cache({ maxEntries: 0 })).toThrow(RegattaError);
    });

    it('delete removes the key from memory and Redis', async () => {
      const server = new FakeRedisServer();
      const c = cache<number>({ redis: server.handle(), keyPrefix: 'p:' });
      await c.set('k', 1);
      await c.delete('k');
      expect(await c.get('k')).toBeUndefined();
      expect(server.store.has('p:k')).toBe(false);
    });
  });

  describe('getOrLoad', () => {
    it('runs the loader once for 50 concurrent misses and gives every caller its value', async () => {
      const c = cache<string>();
      const gate = deferred<string>();
      let calls = 0;
      const loader = () => {
        calls += 1;
        return gate.promise;
      };
      const all = Promise.all(Array.from({ length: 50 }, () => c.getOrLoad('hot', loader)));
      await tick();
      gate.resolve('value');
      expect(await all).toEqual(Array.from({ length: 50 }, () => 'value'));
      expect(calls).toBe(1);
      expect(await counterValue('cache_coalesced_total', { cache: c.name })).toBe(49);
      expect(await counterValue('cache_loads_total', { cache: c.name, outcome: 'success' })).toBe(1);
      // Later callers are served from memory without the loader.
      expect(await c.getOrLoad('hot', () => Promise.resolve('other'))).toBe('value');
      expect(calls).toBe(1);
    });

    it('gives a failed load to every waiting caller and does not cache it', async () => {
      const c = cache<string>();
      const gate = deferred<string>();
      let calls = 0;
      const failing = () => {
        calls += 1;
        return gate.promise;
      };
      const results = Promise.allSettled(Array.from({ length: 5 }, () => c.getOrLoad('k', failing)));
      await tick();
      gate.reject(new Error('model offline'));
      const settled = await results;
      expect(settled.map((s) => s.status)).toEqual(Array.from({ length: 5 }, () => 'rejected'));
      expect(settled.map((s) => (s.status === 'rejected' ? (s.reason as Error).message : ''))).toEqual(
        Array.from({ length: 5 }, () => 'model offline'),
      );
      expect(calls).toBe(1);
      expect(await counterValue('cache_loads_total', { cache: c.name, outcome: 'error' })).toBe(1);

      expect(await c.getOrLoad('k', () => Promise.resolve('recovered'))).toBe('recovered');
      expect(await c.get('k')).toBe('recovered');
    });

    it('reads Redis before running the loader, and fills memory from it', async () => {
      const server = new FakeRedisServer();
      const writer = cache<number>({ redis: server.handle(), keyPrefix: 'shared:' });
      const reader = cache<number>({ redis: server.handle(), keyPrefix: 'shared:' });
      await writer.set('k', 42);
      let loaded = false;
      const value = await reader.getOrLoad('k', () => {
        loaded = true;
        return Promise.resolve(0);
      });
      expect(value).toBe(42);
      expect(loaded).toBe(false);
      expect(
        await counterValue('cache_requests_total', { cache: reader.name, tier: 'redis', result: 'hit' }),
      ).toBe(1);
      server.up = false;
      expect(await reader.get('k')).toBe(42);
    });

    it('writes a loaded value back to Redis in the background', async () => {
      const server = new FakeRedisServer();
      const c = cache<number>({ redis: server.handle(), keyPrefix: 'wb:' });
      await c.getOrLoad('k', () => Promise.resolve(7));
      await c.flush();
      expect(server.store.get('wb:k')?.toString()).toBe('7');
    });

    it('does not store a value whose key was deleted while it loaded', async () => {
      const c = cache<string>();
      const gate = deferred<string>();
      const load = c.getOrLoad('k', () => gate.promise);
      await tick();
      await c.delete('k');
      gate.resolve('stale');
      expect(await load).toBe('stale');
      expect(await c.get('k')).toBeUndefined();
    });
  });

  describe('mget / mset', () => {
    it('returns values in key order, asking Redis once for all memory misses', async () => {
      const server = new FakeRedisServer();
      const writer = cache<string>({ redis: server.handle(), keyPrefix: 'm:' });
      const reader = cache<string>({ redis: server.handle(), keyPrefix: 'm:' });
      await writer.mset([
        ['a', 'A'],
        ['b', 'B'],
        ['c', 'C'],
      ]);
      expect(server.calls).toEqual(['pipeline']);
      await reader.set('local', 'L');
      server.calls.length = 0;
      expect(await reader.mget(['c', 'missing', 'local', 'a'])).toEqual(['C', undefined, 'L', 'A']);
      expect(server.calls).toEqual(['mget']);
    });
  });

  describe('codec', () => {
    it('stores values with the given codec and decodes them on another replica', async () => {
      const floats: CacheCodec<Float32Array> = {
        encode: (v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength),
        decode: (b) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)),
      };
      const server = new FakeRedisServer();
      const a = cache<Float32Array>({ redis: server.handle(), keyPrefix: 'f:', codec: floats });
      const b = cache<Float32Array>({ redis: server.handle(), keyPrefix: 'f:', codec: floats });
      await a.set('v', new Float32Array([0.5, 1.5]));
      expect(server.store.get('f:v')?.byteLength).toBe(8);
      expect(Array.from((await b.get('v'))!)).toEqual([0.5, 1.5]);
    });

    it('treats a value the codec cannot decode as a miss', async () => {
      const server = new FakeRedisServer();
      server.store.set('bad:k', Buffer.from('{not json'));
      const c = cache<number>({ redis: server.handle(), keyPrefix: 'bad:' });
      expect(await c.getOrLoad('k', () => Promise.resolve(3))).toBe(3);
      expect(
        await counterValue('cache_requests_total', { cache: c.name, tier: 'redis', result: 'error' }),
      ).toBe(1);
    });
  });

  describe('when Redis fails', () => {
    it('serves from memory and the loader, counts every failure and logs once per outage', async () => {
      const server = new FakeRedisServer();
      const logger = recordingLogger();
      const c = cache<number>({ redis: server.handle(), keyPrefix: 'x:', logger });
      await c.set('warm', 1);
      server.failWith = new Error('Command timed out');

      for (let i = 0; i < 10; i++) {
        expect(await c.get('warm')).toBe(1);
        expect(await c.getOrLoad(`cold-${i}`, () => Promise.resolve(i))).toBe(i);
        await c.set(`set-${i}`, i);
      }
      await c.flush();
      expect(await c.mget(['cold-3', 'nowhere'])).toEqual([3, undefined]);

      expect(
        await counterValue('cache_requests_total', { cache: c.name, tier: 'redis', result: 'error' }),
      ).toBe(11);
      expect(await counterValue('cache_redis_errors_total', { cache: c.name, op: 'get' })).toBe(10);
      expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(1);

      server.failWith = undefined;
      await c.set('after', 2);
      expect(logger.lines.at(-1)).toEqual({ level: 'info', msg: 'redis commands succeed again' });
      expect(server.store.get('x:after')?.toString()).toBe('2');
    });

    it('does not send commands while the handle reports Redis down', async () => {
      const server = new FakeRedisServer();
      server.up = false;
      const c = cache<number>({ redis: server.handle(), keyPrefix: 'd:' });
      expect(await c.getOrLoad('k', () => Promise.resolve(5))).toBe(5);
      await c.set('j', 6);
      await c.flush();
      expect(server.calls).toEqual([]);
      expect(
        await counterValue('cache_requests_total', { cache: c.name, tier: 'redis', result: 'error' }),
      ).toBe(1);
      expect(await c.get('k')).toBe(5);
    });
  });
});
