import { counter } from '@regatta/telemetry';

// Looked up on each use rather than held, so a test that resets the registry gets fresh families.

/** Lookups per tier: `memory` is the in-process LRU, `redis` the shared tier; `error` means Redis failed or was down. */
export const cacheRequests = () =>
  counter<'cache' | 'tier' | 'result'>({
    name: 'cache_requests_total',
    help: 'Cache lookups by cache, tier (memory|redis) and result (hit|miss|error)',
    labelNames: ['cache', 'tier', 'result'],
  });

/** Loader runs after a miss in both tiers. */
export const cacheLoads = () =>
  counter<'cache' | 'outcome'>({
    name: 'cache_loads_total',
    help: 'Loader runs after a miss in every tier, by cache and outcome (success|error)',
    labelNames: ['cache', 'outcome'],
  });

/** Callers that waited for a load already running for the same key instead of starting their own. */
export const cacheCoalesced = () =>
  counter<'cache'>({
    name: 'cache_coalesced_total',
    help: 'Lookups that joined a load already in flight for the same key',
    labelNames: ['cache'],
  });

/** Redis operations that failed or were skipped because Redis was down; callers were served from memory. */
export const cacheRedisErrors = () =>
  counter<'cache' | 'op'>({
    name: 'cache_redis_errors_total',
    help: 'Redis operations that failed or were skipped while Redis was unavailable, by cache and op',
    labelNames: ['cache', 'op'],
  });
