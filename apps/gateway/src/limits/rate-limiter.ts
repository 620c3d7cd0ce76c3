import { createHash } from 'node:crypto';
import { type DependencyCheck } from '@regatta/contracts';
import { type RedisHandle } from '@regatta/cache';
import { counter } from '@regatta/telemetry';

/** The answer for one request. */
export interface RateDecision {
  allowed: boolean;
  /** Requests an idle key may send at once (RateLimit-Limit). */
  limit: number;
  /** Requests the key may still send right now (RateLimit-Remaining). */
  remaining: number;
  /** Seconds until the key is back to its full burst (RateLimit-Reset). */
  resetS: number;
  /** Seconds to wait before the next request can pass (only when refused). */
  retryAfterS: number;
  /** Which limiter decided: the shared one in Redis, or this process's fallback. */
  backend: 'redis' | 'memory';
}

/** A key's limit: sustained requests per second and the burst an idle key may send at once. */
export interface RateLimit {
  ratePerS: number;
  burst: number;
}

const decisions = counter({
  name: 'gateway_rate_limit_decisions_total',
  help: 'Rate limit decisions, by outcome (allowed, limited) and backend (redis, memory)',
  labelNames: ['outcome', 'backend'],
});

// GCRA (the generic cell rate algorithm): one number per key, the theoretical arrival time (TAT)
// of the next request. A request is let through when it would not push the TAT more than
// `burst` emission intervals past now. Redis' own clock is used so every gateway agrees.
const GCRA_LUA = `
local interval = tonumber(ARGV[1])
local capacity = interval * tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local nextTat = tat + interval
if nextTat - now <= capacity then
  redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', math.ceil(nextTat - now) + 1)
  return {1, string.format('%.3f', nextTat - now), '0'}
end
return {0, string.format('%.3f', tat - now), string.format('%.3f', nextTat - now - capacity)}
`;
const GCRA_SHA = createHash('sha1').update(GCRA_LUA).digest('hex');

function decide(
  allowed: boolean,
  aheadMs: number,
  waitMs: number,
  limit: RateLimit,
  backend: RateDecision['backend'],
): RateDecision {
  const interval = 1000 / limit.ratePerS;
  return {
    allowed,
    limit: limit.burst,
    remaining: Math.max(0, Math.floor((limit.burst * interval - aheadMs) / interval)),
    resetS: Math.ceil(aheadMs / 1000),
    retryAfterS: allowed ? 0 : Math.max(1, Math.ceil(waitMs / 1000)),
    backend,
  };
}

/** One replica's share of `limit` when `replicas` gateways limit a key each on their own. */
export function shareOf(limit: RateLimit, replicas: number): RateLimit {
  if (replicas <= 1) return limit;
  return { ratePerS: limit.ratePerS / replicas, burst: Math.max(1, Math.floor(limit.burst / replicas)) };
}

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  redis?: RedisHandle | undefined;
  /** Prefix of the Redis keys (default `regatta:ratelimit:`). */
  prefix?: string;
  /** Most keys the in-process fallback remembers (default 100 000). */
  maxLocalKeys?: number;
  /**
   * How many gateway replicas share each key's limit while it is kept per process (Redis absent or
   * failing): each then allows 1/N of the key's rate and burst (at least one request), so the replicas
   * together stay near the key's limit. Default 1.
   */
  localShare?: () => number;
  now?: () => number;
}

/**
 * Per-key rate limits shared by every gateway through one Redis Lua script (GCRA). While Redis is
 * absent or failing, each process limits on its own with the same algorithm, so the API stays up
 * and keys stay limited (per process rather than globally, each process to its share of the limit)
 * until Redis is back.
 */
export class RateLimiter {
  private readonly local = new Map<string, number>();
  private readonly prefix: string;
  private readonly now: () => number;
  private redisFailing = false;
  private lastRedisError = '';
  /** The handle's link count when a command last failed: a newer link means that failure is past. */
  private failedOnConnection = 0;

  constructor(private readonly options: RateLimiterOptions = {}) {
    this.prefix = options.prefix ?? 'regatta:ratelimit:';
    this.now = options.now ?? Date.now;
  }

  /** Takes one request from `id`'s allowance. */
  async take(id: string, limit: RateLimit): Promise<RateDecision> {
    const redis = this.options.redis?.client();
    if (redis) {
      try {
        const args = [1, this.prefix + id, (1000 / limit.ratePerS).toFixed(3), String(limit.burst)] as const;
        let reply: unknown;
        try {
          reply = await redis.evalsha(GCRA_SHA, ...args);
        } catch (err) {
          if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
          reply = await redis.eval(GCRA_LUA, ...args);
        }
        const [allowed, ahead, wait] = reply as [number, string, string];
        this.redisFailing = false;
        const decision = decide(allowed === 1, Number(ahead), Number(wait), limit, 'redis');
        decisions.inc({ outcome: decision.allowed ? 'allowed' : 'limited', backend: 'redis' });
        return decision;
      } catch (err) {
        this.options.redis?.commandFailed(err);
        this.redisFailing = true;
        this.failedOnConnection = this.options.redis?.connections ?? 0;
        this.lastRedisError = err instanceof Error ? err.message : String(err);
      }
    }
    const decision = this.takeLocal(id, shareOf(limit, this.share()));
    decisions.inc({ outcome: decision.allowed ? 'allowed' : 'limited', backend: 'memory' });
    return decision;
  }

  /** Replicas sharing a key's limit while it is kept per process (a whole number, at least 1). */
  private share(): number {
    const n = Math.floor(this.options.localShare?.() ?? 1);
    return Number.isFinite(n) && n > 1 ? n : 1;
  }

  /** The same GCRA in this process. */
  takeLocal(id: string, limit: RateLimit): RateDecision {
    const now = this.now();
    const interval = 1000 / limit.ratePerS;
    const tat = Math.max(this.local.get(id) ?? now, now);
    const next = tat + interval;
    if (next - now <= interval * limit.burst) {
      this.local.delete(id);
      this.local.set(id, next);
      this.evictIdle(now);
      return decide(true, next - now, 0, limit, 'memory');
    }
    return decide(false, tat - now, next - now - interval * limit.burst, limit, 'memory');
  }

  /** For /ready: `ok` while limits are shared through Redis, `degraded` while they are per process. */
  status(): DependencyCheck {
    const handle = this.options.redis;
    const n = this.share();
    const limits =
      n > 1
        ? `per-process rate limits, 1/${n} of each key's limit (${n} gateways)`
        : 'per-process rate limits';
    if (!handle?.configured) return { status: 'degraded', detail: `REDIS_URL not set: ${limits}` };
    // A failure on a link the handle has since replaced says nothing about the link it has now.
    if (this.redisFailing && handle.connections > this.failedOnConnection) this.redisFailing = false;
    if (!handle.client() || this.redisFailing) {
      const why = this.lastRedisError || handle.status().detail;
      return { status: 'degraded', detail: `${limits} while Redis is unavailable (${why})` };
    }
    return { status: 'ok' };
  }

  private evictIdle(now: number): void {
    const max = this.options.maxLocalKeys ?? 100_000;
    if (this.local.size <= max) return;
    // Map order is last-use order: the first entries are the longest idle; drop those already refilled.
    for (const [key, tat] of this.local) {
      if (this.local.size <= max * 0.9) break;
      if (tat <= now || this.local.size > max) this.local.delete(key);
    }
  }
}
