import { RegattaError, invalidArgument } from '@regatta/contracts';
import { featureKey, type FeatureRow, type ModelRef } from './canonical.js';
import { cacheCoalesced, cacheLoads } from './metrics.js';
import type { CacheLogger, RedisHandle } from './redis.js';
import { TwoTierCache } from './two-tier-cache.js';

/** Options of a {@link FeatureCache}. */
export interface FeatureCacheOptions {
  /** Shared tier; without it predictions are cached in this process only. */
  redis?: RedisHandle;
  /** Lifetime of a cached prediction. Default 10 minutes. */
  ttlMs?: number;
  /** Most predictions kept in process memory. Default 100 000. */
  maxEntries?: number;
  /** Prefix of the Redis keys. Default `regatta:prediction:`. */
  keyPrefix?: string;
  logger?: CacheLogger;
  /** Milliseconds clock for in-memory expiry; tests pass a fake one. */
  clock?: () => number;
}

/** Computes predictions for the rows the cache did not have; `missIndexes[i]` is the position of `missRows[i]` in the caller's batch. */
export type PredictFn<R extends FeatureRow, P> = (missRows: R[], missIndexes: number[]) => Promise<P[]>;

/** Predictions in the order of the rows asked for; `hits[i]` is true when row i came from the cache. */
export interface CachedPredictions<P> {
  predictions: P[];
  hits: boolean[];
}

/** The metric label `cache` of the prediction cache. */
export const PREDICTION_CACHE = 'prediction';

const DEFAULT_TTL_MS = 10 * 60_000;
const DEFAULT_MAX_ENTRIES = 100_000;

interface RowFlight {
  promise: Promise<unknown>;
  resolve(prediction: unknown): void;
  reject(err: unknown): void;
}

/**
 * Caches model predictions per input row, keyed by a hash of model name, version and the canonical row.
 * A batch with some cached rows sends only the others to the model; rows already being computed by a
 * concurrent batch in this process are awaited rather than computed twice. Redis trouble never reaches
 * callers: the cache falls back to process memory.
 */
export class FeatureCache {
  private readonly cache: TwoTierCache<unknown>;
  private readonly inflight = new Map<string, RowFlight>();
  private readonly pending = new Set<Promise<void>>();

  constructor(options: FeatureCacheOptions = {}) {
    this.cache = new TwoTierCache<unknown>({
      name: PREDICTION_CACHE,
      maxEntries: options.maxEntries ?? DEFAULT_MAX_ENTRIES,
      ttlMs: options.ttlMs ?? DEFAULT_TTL_MS,
      keyPrefix: options.keyPrefix ?? `regatta:${PREDICTION_CACHE}:`,
      ...(options.redis ? { redis: options.redis } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  /** The cache key of one row's prediction (INVALID_ARGUMENT for NaN or non-numeric features). */
  rowKey(model: ModelRef, row: FeatureRow): string {
    checkModel(model);
    return featureKey(model, row);
  }

  /**
   * Predictions for `rows`, from the cache where possible; `fn` is called at most once per call with only
   * the rows nobody has (or is computing). The result has one prediction per row, in the rows' order.
   * `P` must survive JSON: it is what another replica reads back from Redis.
   */
  async cachedPredict<R extends FeatureRow, P>(
    model: ModelRef,
    rows: readonly R[],
    fn: PredictFn<R, P>,
  ): Promise<CachedPredictions<P>> {
    checkModel(model);
    if (!Array.isArray(rows)) throw invalidArgument('rows must be an array');
    // Every row is validated before any lookup, so a bad batch costs nothing and names its first bad row.
    const keys = rows.map((row, i) => featureKey(model, row, i));

    // A row repeated in the batch is looked up and computed once.
    const firstIndex = new Map<string, number>();
    keys.forEach((key, i) => {
      if (!firstIndex.has(key)) firstIndex.set(key, i);
    });
    const unique = [...firstIndex.keys()];
    const cached = await this.cache.mget(unique);

    const found = new Map<string, unknown>();
    const fromCache = new Set<string>();
    const owned: string[] = [];
    const joined: string[] = [];
    unique.forEach((key, i) => {
      const value = cached[i];
      if (value !== undefined) {
        found.set(key, value);
        fromCache.add(key);
      } else if (this.inflight.has(key)) joined.push(key);
      else owned.push(key);
    });
    if (joined.length > 0) cacheCoalesced().inc({ cache: PREDICTION_CACHE }, joined.length);

    const joinedFlights = joined.map((key) => this.inflight.get(key)!.promise);
    const [ownValues, joinedOutcomes] = await Promise.all([
      this.compute(owned, rows, firstIndex, fn, true),
      Promise.allSettled(joinedFlights),
    ]);
    owned.forEach((key, i) => found.set(key, ownValues[i]));

    // A concurrent batch that failed must not fail this one: its rows are computed here instead.
    const retry: string[] = [];
    joined.forEach((key, i) => {
      const outcome = joinedOutcomes[i]!;
      if (outcome.status === 'fulfilled') found.set(key, outcome.value);
      else retry.push(key);
    });
    if (retry.length > 0) {
      const retried = await this.compute(retry, rows, firstIndex, fn, false);
      retry.forEach((key, i) => found.set(key, retried[i]));
    }

    return {
      predictions: keys.map((key) => found.get(key) as P),
      hits: keys.map((key) => fromCache.has(key)),
    };
  }

  /** Empties this process's tier; Redis keeps its entries (used to prove a hit came from Redis). */
  clearMemory(): void {
    this.cache.clearMemory();
  }

  /** Resolves once the background Redis writes started so far have finished. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  // Runs fn for `keys` (rows by first index), shares the outcome with concurrent batches when `share`,
  // and stores the predictions in memory at once and in Redis in the background.
  private async compute<R extends FeatureRow, P>(
    keys: string[],
    rows: readonly R[],
    firstIndex: ReadonlyMap<string, number>,
    fn: PredictFn<R, P>,
    share: boolean,
  ): Promise<P[]> {
    if (keys.length === 0) return [];
    const flights = share ? keys.map((key) => this.register(key)) : [];
    const indexes = keys.map((key) => firstIndex.get(key)!);
    try {
      const predictions = await fn(
        indexes.map((i) => rows[i]!),
        indexes,
      );
      checkPredictions(predictions, keys.length);
      cacheLoads().inc({ cache: PREDICTION_CACHE, outcome: 'success' });
      flights.forEach((flight, i) => flight.resolve(predictions[i]));
      this.store(keys.map((key, i) => [key, predictions[i]] as const));
      return predictions;
    } catch (err) {
      cacheLoads().inc({ cache: PREDICTION_CACHE, outcome: 'error' });
      flights.forEach((flight) => flight.reject(err));
      throw err;
    } finally {
      keys.forEach((key, i) => {
        if (share && this.inflight.get(key) === flights[i]) this.inflight.delete(key);
      });
    }
  }

  private register(key: string): RowFlight {
    let resolve!: (prediction: unknown) => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Nobody may be waiting on this row; its failure is reported to the batch that owns it.
    promise.catch(() => undefined);
    const flight = { promise, resolve, reject };
    this.inflight.set(key, flight);
    return flight;
  }

  private store(entries: ReadonlyArray<readonly [string, unknown]>): void {
    // Written in memory synchronously by mset; the Redis write must not delay the caller's predictions.
    const write = this.cache.mset(entries).catch(() => undefined);
    this.pending.add(write);
    void write.finally(() => this.pending.delete(write));
  }
}

function checkModel(model: ModelRef): void {
  if (typeof model?.name !== 'string' || model.name === '')
    throw invalidArgument('model.name must be a non-empty string');
  if (typeof model.version !== 'string' || model.version === '') {
    throw invalidArgument(`model ${model.name}: version must be a non-empty string`);
  }
}

function checkPredictions(predictions: unknown, expected: number): void {
  // A model that answers a different number of rows would silently shift every prediction after the gap.
  if (!Array.isArray(predictions) || predictions.length !== expected) {
    const got = Array.isArray(predictions) ? `${predictions.length} predictions` : typeof predictions;
    throw new RegattaError('INTERNAL', `prediction function returned ${got} for ${expected} rows`);
  }
  const missing = (predictions as unknown[]).findIndex((p) => p === undefined);
  if (missing >= 0)
    throw new RegattaError('INTERNAL', `prediction function returned no prediction for row ${missing}`);
}

let processCache: FeatureCache | undefined;
let processCacheConfigured = false;

/**
 * The process-wide prediction cache. The first call creates it (from `options`, or in-process only);
 * passing options once it exists is a CONFLICT, since they would be ignored.
 */
export function getFeatureCache(options?: FeatureCacheOptions): FeatureCache {
  if (processCache) {
    if (options) throw alreadyExists();
    return processCache;
  }
  processCache = new FeatureCache(options);
  processCacheConfigured = options !== undefined;
  return processCache;
}

/** Sets up the process-wide prediction cache once at boot (e.g. with the service's Redis handle). */
export function configureFeatureCache(options: FeatureCacheOptions): FeatureCache {
  if (processCache) throw alreadyExists();
  return getFeatureCache(options);
}

/** Forgets the process-wide prediction cache (tests only); the Redis handle stays open, its owner closes it. */
export function resetFeatureCache(): void {
  processCache = undefined;
  processCacheConfigured = false;
}

function alreadyExists(): RegattaError {
  const how = processCacheConfigured
    ? 'configured'
    : 'created in-process only by an earlier getFeatureCache()';
  return new RegattaError(
    'CONFLICT',
    `the feature cache was already ${how}; configure it once at boot, before first use`,
  );
}
