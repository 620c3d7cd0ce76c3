export * from './canonical.js';
export * from './codec.js';
export * from './feature-cache.js';
export * from './redis.js';
export * from './two-tier-cache.js';
export { cacheCoalesced, cacheLoads, cacheRedisErrors, cacheRequests } from './metrics.js';
