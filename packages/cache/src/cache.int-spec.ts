import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PrivateServer, TcpFaultProxy, eventually, freePort } from '@regatta/testing';
import { FeatureCache } from './feature-cache.js';
import { connectRedis, type RedisHandle } from './redis.js';
import { counterValue, recordingLogger } from './testing/metrics.js';
import { TwoTierCache } from './two-tier-cache.js';

// The machine's shared Redis: only read and written under a prefix unique to this run, never stopped.
const SHARED_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const sumModel = () => {
  const calls: number[][][] = [];
  const fn = (rows: number[][]) => {
    calls.push(rows);
    return Promise.resolve(rows.map((row) => ({ score: [row.reduce((a, b) => a + b, 0)] })));
  };
  return { fn, calls };
};

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

describe('cache against the shared Redis', () => {
  const prefix = `regatta:test:${randomUUID()}:`;
  let a: RedisHandle;
  let b: RedisHandle;

  beforeAll(async () => {
    a = connectRedis(SHARED_URL, { name: 'int-replica-a', logger: recordingLogger() });
    b = connectRedis(SHARED_URL, { name: 'int-replica-b', logger: recordingLogger() });
    await eventually(
      () => a.status().status === 'ok' && b.status().status === 'ok',
      'both replicas to connect',
    );
  });

  afterAll(async () => {
    const client = a.client();
    if (client) {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(keys);
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('serves a repeated cachedPredict from Redis on another replica and after memory is cleared', async () => {
    const model = { name: 'fraud', version: randomUUID() };
    const rows = [
      [1, 2],
      [3, 4],
      [5, 6],
    ];
    const replicaA = new FeatureCache({ redis: a, keyPrefix: `${prefix}pred:` });
    const replicaB = new FeatureCache({ redis: b, keyPrefix: `${prefix}pred:` });
    const { fn, calls } = sumModel();
    const redisHits = () =>
      counterValue('cache_requests_total', { cache: 'prediction', tier: 'redis', result: 'hit' });

    const first = await replicaA.cachedPredict(model, rows, fn);
    expect(first.hits).toEqual([false, false, false]);
    await replicaA.flush();

    const before = await redisHits();
    const onB = await replicaB.cachedPredict(model, rows, fn);
    expect(onB).toEqual({ predictions: first.predictions, hits: [true, true, true] });
    expect((await redisHits()) - before).toBe(3);

    replicaA.clearMemory();
    const again = await replicaA.cachedPredict(
      model,
      [
        [3, 4],
        [7, 8],
      ],
      fn,
    );
    expect(again.predictions).toEqual([{ score: [7] }, { score: [15] }]);
    expect(again.hits).toEqual([true, false]);
    expect((await redisHits()) - before).toBe(4);
    expect(calls).toEqual([rows, [[7, 8]]]);
  });

  it('reads a batch with one MGET, writes with one pipeline and lets Redis expire entries', async () => {
    const writer = new TwoTierCache<number[]>({
      name: 'int-batch',
      maxEntries: 100,
      ttlMs: 60_000,
      redis: a,
      keyPrefix: prefix,
    });
    const reader = new TwoTierCache<number[]>({
      name: 'int-batch',
      maxEntries: 100,
      ttlMs: 60_000,
      redis: b,
      keyPrefix: prefix,
    });
    await writer.mset([
      ['x', [1]],
      ['y', [2]],
    ]);
    await writer.set('short', [3], 150);
    expect(await reader.mget(['y', 'nope', 'x', 'short'])).toEqual([[2], undefined, [1], [3]]);
    const pttl = await a.client()!.pttl(`${prefix}x`);
    expect(pttl).toBeGreaterThan(50_000);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await a.client()!.exists(`${prefix}short`)).toBe(0);
  });

  it('stores bytes from a custom codec unchanged', async () => {
    const codec = {
      encode: (v: Float64Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength),
      decode: (raw: Buffer) =>
        new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
    };
    const writer = new TwoTierCache({
      name: 'int-codec',
      maxEntries: 10,
      ttlMs: 60_000,
      redis: a,
      keyPrefix: prefix,
      codec,
    });
    const reader = new TwoTierCache({
      name: 'int-codec',
      maxEntries: 10,
      ttlMs: 60_000,
      redis: b,
      keyPrefix: prefix,
      codec,
    });
    await writer.set('vec', new Float64Array([0.1, -2.5, 1e300]));
    expect((await a.client()!.getBuffer(`${prefix}vec`))?.byteLength).toBe(24);
    expect(Array.from((await reader.get('vec'))!)).toEqual([0.1, -2.5, 1e300]);
  });
});

describe('Redis stopped mid-test', () => {
  let server: PrivateServer;
  let handle: RedisHandle;
  const logger = recordingLogger();

  beforeAll(async () => {
    server = await PrivateServer.start('redis');
    handle = connectRedis(server.url, { name: 'int-private', logger, maxReconnectDelayMs: 100 });
    await eventually(() => handle.status().status === 'ok', 'the private redis to be ready');
  });

  afterAll(async () => {
    await handle.close();
    await server.kill();
  });

  it('keeps serving every call from memory or the loader while down, and uses Redis again once back', async () => {
    const cache = new TwoTierCache<string>({
      name: 'int-outage',
      maxEntries: 1_000,
      ttlMs: 60_000,
      redis: handle,
      logger,
    });
    const predictions = new FeatureCache({ redis: handle, logger });
    const model = { name: 'outage', version: randomUUID() };
    const { fn } = sumModel();

    expect(await cache.getOrLoad('warm', () => Promise.resolve('w'))).toBe('w');
    await predictions.cachedPredict(model, [[1, 1]], fn);
    await Promise.all([cache.flush(), predictions.flush()]);
    expect(await handle.client()!.get('regatta:int-outage:warm')).toBe('"w"');

    await server.kill();
    let slowest = 0;
    for (let i = 0; i < 40; i++) {
      const calls = await Promise.all([
        timed(() => cache.getOrLoad('warm', () => Promise.resolve('reloaded'))),
        timed(() => cache.getOrLoad(`cold-${i}`, () => Promise.resolve(`v${i}`))),
        timed(() => cache.set(`set-${i}`, 'x')),
        timed(() =>
          predictions.cachedPredict(
            model,
            [
              [1, 1],
              [i, 100],
            ],
            fn,
          ),
        ),
      ]);
      expect(calls[0].value).toBe('w');
      expect(calls[1].value).toBe(`v${i}`);
      expect(calls[3].value.predictions).toEqual([{ score: [2] }, { score: [i + 100] }]);
      expect(calls[3].value.hits).toEqual([true, false]);
      slowest = Math.max(slowest, ...calls.map((c) => c.ms));
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    // Nothing waits for a reconnect (which would take seconds here): commands fail fast.
    expect(slowest).toBeLessThan(1_000);
    expect(handle.status()).toMatchObject({ status: 'degraded' });
    expect(handle.client()).toBeUndefined();
    // About 40 reconnect attempts failed above; the outage was logged once.
    expect(logger.lines.filter((l) => l.msg.startsWith('redis unavailable'))).toHaveLength(1);
    expect(
      await counterValue('cache_requests_total', { cache: 'int-outage', tier: 'redis', result: 'error' }),
    ).toBeGreaterThan(0);

    await server.restart();
    await eventually(() => handle.status().status === 'ok', 'health to be ok again');
    expect(logger.lines.filter((l) => l.msg === 'redis recovered')).toHaveLength(1);
    await cache.set('after', 'back');
    expect(await handle.client()!.get('regatta:int-outage:after')).toBe('"back"');
  });

  it('never throws when Redis is absent at boot, and logs the absence once', async () => {
    const bootLogger = recordingLogger();
    const absent = connectRedis(`redis://127.0.0.1:${await freePort()}`, {
      name: 'int-absent',
      logger: bootLogger,
      maxReconnectDelayMs: 50,
    });
    try {
      const cache = new TwoTierCache<number>({
        name: 'int-absent',
        maxEntries: 10,
        ttlMs: 1_000,
        redis: absent,
      });
      for (let i = 0; i < 10; i++) {
        expect(await cache.getOrLoad('k', () => Promise.resolve(i))).toBe(0);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      expect(absent.status().status).toBe('degraded');
      expect(absent.status().detail).toMatch(/unreachable since .*ECONNREFUSED/);
      expect(bootLogger.lines).toHaveLength(1);
      expect(bootLogger.lines[0]?.level).toBe('warn');
    } finally {
      await absent.close();
    }
  });
});

describe('Redis that stops answering (a network partition: the link stays up, nothing comes back)', () => {
  let proxy: TcpFaultProxy;
  let handle: RedisHandle;
  const logger = recordingLogger();

  beforeAll(async () => {
    proxy = await TcpFaultProxy.forUrl(SHARED_URL).start();
    handle = connectRedis(proxy.urlFor(SHARED_URL), {
      name: 'int-partition',
      logger,
      commandTimeoutMs: 100,
      connectTimeoutMs: 300,
      maxReconnectDelayMs: 100,
    });
    await eventually(() => handle.status().status === 'ok', 'redis through the proxy to be ready');
  });

  afterAll(async () => {
    await handle.close();
    await proxy.stop();
  });

  it('pays one command timeout, then skips Redis at once until it answers again', async () => {
    const name = `int-partition-${randomUUID()}`;
    const cache = new TwoTierCache<string>({ name, maxEntries: 1_000, ttlMs: 60_000, redis: handle, logger });
    await cache.set('before', 'b');
    await cache.flush();

    proxy.blackhole();
    // The first lookup waits out its command timeout and reads as a miss; the link is then dropped.
    const first = await timed(() => cache.getOrLoad('cold-0', () => Promise.resolve('v0')));
    expect(first.value).toBe('v0');
    expect(first.ms).toBeGreaterThanOrEqual(90);
    expect(handle.client()).toBeUndefined();
    expect(handle.status()).toMatchObject({ status: 'degraded' });
    expect(handle.status().detail).toContain('a command got no answer within 100 ms; reconnecting');

    // Every later lookup skips Redis: twenty of them take less than two timeouts together.
    const started = performance.now();
    for (let i = 1; i <= 20; i++) {
      expect(await cache.getOrLoad(`cold-${i}`, () => Promise.resolve(`v${i}`))).toBe(`v${i}`);
    }
    expect(performance.now() - started).toBeLessThan(200);
    expect(logger.lines.filter((l) => l.msg.startsWith('redis unavailable'))).toHaveLength(1);

    proxy.restore();
    await eventually(() => handle.status().status === 'ok', 'redis to answer again', 10_000);
    await cache.set('after', 'a');
    await cache.flush();
    expect(await handle.client()!.get(`regatta:${name}:after`)).toBe('"a"');
  });
});
