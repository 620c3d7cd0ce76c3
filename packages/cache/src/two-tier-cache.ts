import { invalidArgument } from '@regatta/contracts';
import { createLogger } from '@regatta/telemetry';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { jsonCodec, type CacheCodec } from './codec.js';
import { cacheCoalesced, cacheLoads, cacheRedisErrors, cacheRequests } from './metrics.js';
import type { CacheLogger, RedisHandle } from './redis.js';

/** Options of a {@link TwoTierCache}. */
export interface TwoTierCacheOptions<V> {
  /** Metric label `cache` and part of the default Redis key prefix. */
  name: string;
  /** Most entries kept in process memory (tier 1). */
  maxEntries: number;
  /** Default time to live of an entry, in both tiers. */
  ttlMs: number;
  /** Cap on the tier-1 lifetime, so an entry changed by another replica is seen again after this. Default `ttlMs`. */
  memoryTtlMs?: number;
  /** Tier 2; without it (or without a URL behind it) the cache is in-process only. */
  redis?: RedisHandle;
  /** Prefix of every Redis key. Default `regatta:<name>:`. */
  keyPrefix?: string;
  /** How values are stored in Redis. Default JSON. */
  codec?: CacheCodec<V>;
  logger?: CacheLogger;
  /** Milliseconds clock for tier-1 expiry; tests pass a fake one. */
  clock?: () => number;
}

/** Function that produces a value after a miss in both tiers. */
export type Loader<V> = () => Promise<V>;

interface Entry<V> {
  value: V;
}

// Set by delete() while a load runs: the value still reaches the callers waiting for it but is not stored.
interface LoadGuard {
  invalidated: boolean;
}

interface Flight<V> {
  promise: Promise<V>;
  guard: LoadGuard;
}

type RedisOp = 'get' | 'mget' | 'set' | 'mset' | 'delete';

/**
 * An in-process LRU in front of Redis. Reads try memory, then Redis, then (in `getOrLoad`) a loader run once
 * per key however many callers miss at the same time. Redis failures never reach callers: the cache
 * degrades to memory, counts the failure and logs once per outage.
 */
export class TwoTierCache<V> {
  readonly name: string;
  private readonly memory: LRUCache<string, Entry<V>>;
  private readonly ttlMs: number;
  private readonly memoryTtlMs: number;
  private readonly redis: RedisHandle | undefined;
  private readonly keyPrefix: string;
  private readonly codec: CacheCodec<V>;
  private readonly logger: CacheLogger;
  private readonly inflight = new Map<string, Flight<V>>();
  private readonly pending = new Set<Promise<void>>();
  private redisFailing = false;
  private decodeWarned = false;

  constructor(options: TwoTierCacheOptions<V>) {
    if (!options.name) throw invalidArgument('cache name must not be empty');
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw invalidArgument(
        `cache ${options.name}: maxEntries must be a positive integer, got ${options.maxEntries}`,
      );
    }
    this.name = options.name;
    this.ttlMs = checkTtl(options.name, options.ttlMs, 'ttlMs');
    this.memoryTtlMs = checkTtl(options.name, options.memoryTtlMs ?? options.ttlMs, 'memoryTtlMs');
    this.redis = options.redis?.configured ? options.redis : undefined;
    this.keyPrefix = options.keyPrefix ?? `regatta:${options.name}:`;
    this.codec = options.codec ?? jsonCodec<V>();
    this.logger = options.logger ?? createLogger('cache');
    const clock = options.clock;
    this.memory = new LRUCache<string, Entry<V>>({
      max: options.maxEntries,
      ttl: this.memoryTtlMs,
      // The default clock is read at most once per millisecond; a fake clock must be read every time.
      ...(clock ? { perf: { now: clock }, ttlResolution: 0 } : {}),
    });
  }

  /** The value under `key` from memory or Redis, or undefined. */
  async get(key: string): Promise<V | undefined> {
    const entry = this.memoryGet(key);
    if (entry) return entry.value;
    const [value] = await this.remoteGet([key], 'get');
    if (value !== undefined) this.memorySet(key, value, this.memoryTtlMs);
    return value;
  }

  /** Stores `value` in memory and in Redis (awaited; a Redis failure is absorbed). `undefined` cannot be stored. */
  async set(key: string, value: V, ttlMs?: number): Promise<void> {
    const ttl = ttlMs === undefined ? this.ttlMs : checkTtl(this.name, ttlMs, 'ttlMs');
    this.memorySet(key, checkValue(this.name, key, value), ttl);
    await this.remoteSet([[key, value]], ttl, 'set');
  }

  /** Removes `key` from both tiers; a load in flight for it still answers its callers but stores nothing. */
  async delete(key: string): Promise<void> {
    this.memory.delete(key);
    const flight = this.inflight.get(key);
    if (flight) {
      flight.guard.invalidated = true;
      // Callers arriving after the delete start a fresh load instead of joining the old one.
      this.inflight.delete(key);
    }
    const client = this.usableClient('delete');
    if (!client) return;
    try {
      await client.del(this.keyPrefix + key);
      this.redisSucceeded();
    } catch (err) {
      this.redisFailed('delete', err);
    }
  }

  /**
   * The cached value, or the loader's. Concurrent misses for one key in this process share one loader run
   * and all get its result or its error; a failed load is not cached. The Redis write-back happens in the
   * background (see {@link flush}) so callers do not wait for it.
   */
  async getOrLoad(key: string, loader: Loader<V>, ttlMs?: number): Promise<V> {
    const ttl = ttlMs === undefined ? this.ttlMs : checkTtl(this.name, ttlMs, 'ttlMs');
    const entry = this.memoryGet(key);
    if (entry) return entry.value;
    const running = this.inflight.get(key);
    if (running) {
      cacheCoalesced().inc({ cache: this.name });
      return running.promise;
    }
    const guard: LoadGuard = { invalidated: false };
    const flight: Flight<V> = { promise: this.loadThrough(key, loader, ttl, guard), guard };
    this.inflight.set(key, flight);
    try {
      return await flight.promise;
    } finally {
      if (this.inflight.get(key) === flight) this.inflight.delete(key);
    }
  }

  /** Values for `keys` in the same order (undefined for misses), asking Redis once for all memory misses. */
  async mget(keys: readonly string[]): Promise<Array<V | undefined>> {
    const values = new Array<V | undefined>(keys.length);
    const missing: number[] = [];
    keys.forEach((key, i) => {
      const entry = this.memoryGet(key);
      if (entry) values[i] = entry.value;
      else missing.push(i);
    });
    if (missing.length === 0) return values;
    const found = await this.remoteGet(
      missing.map((i) => keys[i]!),
      'mget',
    );
    missing.forEach((index, j) => {
      const value = found[j];
      values[index] = value;
      if (value !== undefined) this.memorySet(keys[index]!, value, this.memoryTtlMs);
    });
    return values;
  }

  /** Stores several entries: memory at once, Redis in one pipelined round trip (awaited, failures absorbed). */
  async mset(entries: Iterable<readonly [string, V]>, ttlMs?: number): Promise<void> {
    const ttl = ttlMs === undefined ? this.ttlMs : checkTtl(this.name, ttlMs, 'ttlMs');
    const list = [...entries];
    for (const [key, value] of list) checkValue(this.name, key, value);
    for (const [key, value] of list) this.memorySet(key, value, ttl);
    await this.remoteSet(list, ttl, 'mset');
  }

  /** Empties tier 1 only; Redis keeps its entries. */
  clearMemory(): void {
    this.memory.clear();
  }

  /** Entries currently held in process memory. */
  get memorySize(): number {
    return this.memory.size;
  }

  /** Resolves once the background Redis writes started so far have finished (or failed). */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async loadThrough(key: string, loader: Loader<V>, ttl: number, guard: LoadGuard): Promise<V> {
    const [remote] = await this.remoteGet([key], 'get');
    if (remote !== undefined) {
      if (!guard.invalidated) this.memorySet(key, remote, ttl);
      return remote;
    }
    let value: V;
    try {
      value = await loader();
    } catch (err) {
      cacheLoads().inc({ cache: this.name, outcome: 'error' });
      throw err;
    }
    cacheLoads().inc({ cache: this.name, outcome: 'success' });
    if (!guard.invalidated && value !== undefined) {
      this.memorySet(key, value, ttl);
      this.background(this.remoteSet([[key, value]], ttl, 'set'));
    }
    return value;
  }

  private memoryGet(key: string): Entry<V> | undefined {
    const entry = this.memory.get(key);
    cacheRequests().inc({ cache: this.name, tier: 'memory', result: entry ? 'hit' : 'miss' });
    return entry;
  }

  private memorySet(key: string, value: V, ttl: number): void {
    this.memory.set(key, { value }, { ttl: Math.min(ttl, this.memoryTtlMs) });
  }

  // Looks keys up in Redis; every failure reads as a miss. Callers decide whether to keep what it finds.
  private async remoteGet(keys: string[], op: 'get' | 'mget'): Promise<Array<V | undefined>> {
    const values = new Array<V | undefined>(keys.length);
    const client = this.usableClient(op, keys.length);
    if (!client) return values;
    let raws: Array<Buffer | null>;
    try {
      raws =
        keys.length === 1
          ? [await client.getBuffer(this.keyPrefix + keys[0]!)]
          : await client.mgetBuffer(keys.map((key) => this.keyPrefix + key));
      this.redisSucceeded();
    } catch (err) {
      cacheRequests().inc({ cache: this.name, tier: 'redis', result: 'error' }, keys.length);
      this.redisFailed(op, err);
      return values;
    }
    raws.forEach((raw, i) => {
      if (raw === null || raw === undefined) {
        cacheRequests().inc({ cache: this.name, tier: 'redis', result: 'miss' });
        return;
      }
      const value = this.decode(keys[i]!, raw);
      cacheRequests().inc({ cache: this.name, tier: 'redis', result: value === undefined ? 'error' : 'hit' });
      values[i] = value;
    });
    return values;
  }

  private async remoteSet(
    entries: ReadonlyArray<readonly [string, V]>,
    ttl: number,
    op: RedisOp,
  ): Promise<void> {
    if (entries.length === 0) return;
    const client = this.usableClient(op);
    if (!client) return;
    const px = Math.max(1, Math.round(ttl));
    try {
      if (entries.length === 1) {
        const [key, value] = entries[0]!;
        await client.set(this.keyPrefix + key, this.codec.encode(value), 'PX', px);
      } else {
        const commands = entries.map(([key, value]) => [
          'set',
          this.keyPrefix + key,
          this.codec.encode(value),
          'PX',
          px,
        ]);
        const results = (await client.pipeline(commands).exec()) ?? [];
        const failure = results.find(([err]) => err !== null)?.[0];
        if (failure) throw failure;
      }
      this.redisSucceeded();
    } catch (err) {
      this.redisFailed(op, err);
    }
  }

  private decode(key: string, raw: Buffer): V | undefined {
    try {
      return this.codec.decode(raw);
    } catch (err) {
      // A value this codec cannot read (older format, other writer) is a miss; it is overwritten on the next load.
      if (!this.decodeWarned) {
        this.decodeWarned = true;
        this.logger.warn(
          { cache: this.name, key, err: String(err) },
          'cache value in redis could not be decoded',
        );
      }
      return undefined;
    }
  }

  // The ready client, or undefined after counting the skipped operation; the handle logs the outage itself.
  private usableClient(op: RedisOp, lookups = 0): Redis | undefined {
    const client = this.redis?.client();
    if (this.redis && !client) {
      cacheRedisErrors().inc({ cache: this.name, op });
      if (lookups > 0) cacheRequests().inc({ cache: this.name, tier: 'redis', result: 'error' }, lookups);
    }
    return client;
  }

  private redisSucceeded(): void {
    if (!this.redisFailing) return;
    this.redisFailing = false;
    this.logger.info({ cache: this.name }, 'redis commands succeed again');
  }

  private redisFailed(op: RedisOp, err: unknown): void {
    cacheRedisErrors().inc({ cache: this.name, op });
    this.redis?.commandFailed(err);
    if (this.redisFailing) return;
    this.redisFailing = true;
    this.logger.warn(
      { cache: this.name, op, err: err instanceof Error ? err.message : String(err) },
      'redis command failed: serving from in-process cache',
    );
  }

  private background(write: Promise<void>): void {
    this.pending.add(write);
    void write.finally(() => this.pending.delete(write));
  }
}

function checkTtl(cache: string, ttlMs: number, field: string): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw invalidArgument(`cache ${cache}: ${field} must be a positive number of milliseconds, got ${ttlMs}`);
  }
  return ttlMs;
}

function checkValue<V>(cache: string, key: string, value: V): V {
  // undefined is how a lookup says "miss", so it cannot also be a stored value.
  if (value === undefined) throw invalidArgument(`cache ${cache}: value for key '${key}' is undefined`);
  return value;
}
