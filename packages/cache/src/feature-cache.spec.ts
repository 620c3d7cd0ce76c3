import { afterEach, describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { canonicalRow } from './canonical.js';
import {
  FeatureCache,
  configureFeatureCache,
  getFeatureCache,
  resetFeatureCache,
  type FeatureCacheOptions,
} from './feature-cache.js';
import { FakeRedisServer } from './testing/fake-redis.js';
import { counterValue, recordingLogger } from './testing/metrics.js';

const model = { name: 'fraud', version: '3' };
let seq = 0;

// Each test gets its own model name, so metric-free assertions never see another test's entries.
function newCache(options: FeatureCacheOptions = {}): FeatureCache {
  return new FeatureCache({ logger: recordingLogger(), ...options });
}

/** A model stub: the prediction of a row is the sum of its features; records what it was asked. */
function sumModel() {
  const calls: Array<{ rows: number[][]; indexes: number[] }> = [];
  const fn = (rows: number[][], indexes: number[]) => {
    calls.push({ rows, indexes });
    return Promise.resolve(rows.map((row) => [row.reduce((a, b) => a + b, 0)]));
  };
  return { fn, calls };
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

describe(FeatureCache.name, () => {
  describe('cachedPredict', () => {
    it('sends only the uncached rows to fn and returns predictions in the original order', async () => {
      const cache = newCache();
      const m = { name: `m${++seq}`, version: '1' };
      const { fn, calls } = sumModel();
      await cache.cachedPredict(
        m,
        [
          [1, 1],
          [3, 3],
        ],
        fn,
      );

      const result = await cache.cachedPredict(
        m,
        [
          [0, 5],
          [3, 3],
          [2, 2],
          [1, 1],
        ],
        fn,
      );

      expect(calls[1]).toEqual({
        rows: [
          [0, 5],
          [2, 2],
        ],
        indexes: [0, 2],
      });
      expect(result.predictions).toEqual([[5], [6], [4], [2]]);
      expect(result.hits).toEqual([false, true, false, true]);
    });

    it('calls fn not at all when every row is cached', async () => {
      const cache = newCache();
      const { fn, calls } = sumModel();
      await cache.cachedPredict(model, [[9, 9]], fn);
      const again = await cache.cachedPredict(model, [[9, 9]], fn);
      expect(calls).toHaveLength(1);
      expect(again).toEqual({ predictions: [[18]], hits: [true] });
    });

    it('treats rows that differ only in key order, 1 vs 1.0 or -0 vs 0 as the same row', async () => {
      const cache = newCache();
      const m = { name: `m${++seq}`, version: '1' };
      let calls = 0;
      const fn = (rows: Record<string, number>[]) => {
        calls += rows.length;
        return Promise.resolve(rows.map(() => 'p'));
      };
      await cache.cachedPredict(m, [{ amount: 1.0, country: -0, age: 30 }], fn);
      const result = await cache.cachedPredict(m, [{ age: 30, country: 0, amount: 1 }], fn);
      expect(result.hits).toEqual([true]);
      expect(calls).toBe(1);
      expect(canonicalRow({ b: 1, a: -0 })).toBe(canonicalRow({ a: 0, b: 1.0 }));
    });

    it('keeps positional and named rows, and different model versions, apart', async () => {
      const cache = newCache();
      const m = { name: `m${++seq}`, version: '1' };
      const fn = (rows: unknown[]) => Promise.resolve(rows.map(() => 1));
      await cache.cachedPredict(m, [[1, 2]], fn);
      expect((await cache.cachedPredict(m, [{ 0: 1, 1: 2 }], fn)).hits).toEqual([false]);
      expect((await cache.cachedPredict({ ...m, version: '2' }, [[1, 2]], fn)).hits).toEqual([false]);
    });

    it('rejects a NaN feature with INVALID_ARGUMENT naming the row and feature, before calling fn', async () => {
      const cache = newCache();
      const { fn, calls } = sumModel();
      const err = await cache
        .cachedPredict(
          model,
          [
            [1, 2],
            [3, NaN],
          ],
          fn,
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegattaError);
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', message: "rows[1] feature '1' is NaN" });
      const named = (rows: Record<string, number>[]) => {
        calls.push({ rows: [], indexes: [] });
        return Promise.resolve(rows.map(() => [0]));
      };
      await expect(
        cache.cachedPredict(model, [{ age: 30 }, { age: Number.NaN }], named),
      ).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: "rows[1] feature 'age' is NaN",
      });
      await expect(cache.cachedPredict(model, [['7' as unknown as number]], fn)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      expect(calls).toHaveLength(0);
    });

    it('computes a row repeated inside one batch once', async () => {
      const cache = newCache();
      const m = { name: `m${++seq}`, version: '1' };
      const { fn, calls } = sumModel();
      const result = await cache.cachedPredict(m, [[4], [5], [4]], fn);
      expect(calls).toEqual([{ rows: [[4], [5]], indexes: [0, 1] }]);
      expect(result.predictions).toEqual([[4], [5], [4]]);
    });

    it('awaits rows a concurrent batch is already computing instead of computing them again', async () => {
      const cache = newCache();
      const m = { name: `m${++seq}`, version: '1' };
      const gate = deferred<number[][]>();
      const asked: number[][][] = [];
      const slow = (rows: number[][]) => {
        asked.push(rows);
        return gate.promise;
      };
      const first = cache.cachedPredict(m, [[1], [2]], slow);
      await tick();
      const { fn } = sumModel();
      const second = cache.cachedPredict(m, [[2], [3]], (rows: number[][], indexes: number[]) => {
        asked.push(rows);
        return fn(rows, indexes);
      });
      await tick();
      gate.resolve([[10], [20]]);
      expect(await first).toEqual({ predictions: [[10], [20]], hits: [false, false] });
      expect(await second).toEqual({ predictions: [[20], [3]], hits: [false, false] });
      expect(asked).toEqual([[[1], [2]], [[3]]]);
      expect(await counterValue('cache_coalesced_total', { cache: 'prediction' })).toBeGreaterThanOrEqual(1);
    });

    it('computes rows itself when the concurrent batch it waited for fails', async () => {
      const cache = newCache();
      const m = { name: `m${++seq}`, version: '1' };
      const gate = deferred<number[][]>();
      const first = cache.cachedPredict(m, [[1]], () => gate.promise);
      await tick();
      const { fn, calls } = sumModel();
      const second = cache.cachedPredict(m, [[1], [2]], fn);
      await tick();
      gate.reject(new RegattaError('DEADLINE_EXCEEDED', 'first caller gave up'));
      await expect(first).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      expect(await second).toEqual({ predictions: [[1], [2]], hits: [false, false] });
      expect(calls.map((c) => c.rows)).toEqual([[[2]], [[1]]]);
    });

    it('passes a failure of fn to the caller and caches nothing', async () => {
      const cache = newCache();
      const m = { name: `m${++seq}`, version: '1' };
      await expect(
        cache.cachedPredict(m, [[1]], () => Promise.reject(new RegattaError('OVERLOADED', 'queue full'))),
      ).rejects.toMatchObject({ code: 'OVERLOADED' });
      const { fn, calls } = sumModel();
      expect((await cache.cachedPredict(m, [[1]], fn)).hits).toEqual([false]);
      expect(calls).toHaveLength(1);
    });

    it('rejects a fn that returns a different number of predictions than rows with INTERNAL', async () => {
      const cache = newCache();
      const m = { name: `m${++seq}`, version: '1' };
      await expect(cache.cachedPredict(m, [[1], [2]], () => Promise.resolve([[1]]))).rejects.toMatchObject({
        code: 'INTERNAL',
        message: 'prediction function returned 1 predictions for 2 rows',
      });
    });

    it('shares predictions between replicas through Redis and keeps serving when Redis is down', async () => {
      const server = new FakeRedisServer();
      const m = { name: `m${++seq}`, version: '1' };
      const a = newCache({ redis: server.handle(), keyPrefix: 'pred:' });
      const b = newCache({ redis: server.handle(), keyPrefix: 'pred:' });
      const { fn, calls } = sumModel();
      await a.cachedPredict(m, [[1], [2]], fn);
      await a.flush();
      expect((await b.cachedPredict(m, [[1], [2]], fn)).hits).toEqual([true, true]);

      server.up = false;
      b.clearMemory();
      const down = await b.cachedPredict(m, [[1], [7]], fn);
      expect(down.predictions).toEqual([[1], [7]]);
      expect(calls.map((c) => c.rows)).toEqual([
        [[1], [2]],
        [[1], [7]],
      ]);
    });

    it('counts hits and misses under cache="prediction"', async () => {
      const cache = newCache();
      const m = { name: `m${++seq}`, version: '1' };
      const labels = { cache: 'prediction', tier: 'memory' };
      const hitsBefore = await counterValue('cache_requests_total', { ...labels, result: 'hit' });
      const missesBefore = await counterValue('cache_requests_total', { ...labels, result: 'miss' });
      const { fn } = sumModel();
      await cache.cachedPredict(m, [[1], [2]], fn);
      await cache.cachedPredict(m, [[1], [3]], fn);
      expect((await counterValue('cache_requests_total', { ...labels, result: 'hit' })) - hitsBefore).toBe(1);
      expect((await counterValue('cache_requests_total', { ...labels, result: 'miss' })) - missesBefore).toBe(
        3,
      );
    });
  });

  describe(getFeatureCache.name, () => {
    afterEach(() => resetFeatureCache());

    it('returns one process-wide cache, in-process only when not configured', async () => {
      const cache = getFeatureCache();
      expect(getFeatureCache()).toBe(cache);
      const { fn } = sumModel();
      await cache.cachedPredict({ name: `m${++seq}`, version: '1' }, [[1]], fn);
    });

    it('returns the configured cache once configureFeatureCache ran at boot', () => {
      const server = new FakeRedisServer();
      const configured = configureFeatureCache({ redis: server.handle(), ttlMs: 1_000, maxEntries: 10 });
      expect(getFeatureCache()).toBe(configured);
    });

    it('refuses to configure a cache that is already in use with CONFLICT', () => {
      getFeatureCache();
      expect(() => configureFeatureCache({ ttlMs: 1_000 })).toThrow(
        expect.objectContaining({ code: 'CONFLICT' }),
      );
    });
  });
});
