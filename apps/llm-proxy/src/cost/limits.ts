import { type ChatCompletionRequest, type LlmLimitWindow, RegattaError } from '@regatta/contracts';
import { type RedisHandle } from '@regatta/cache';
import { DistinctCounter } from '@regatta/slo';
import { createLogger } from '@regatta/telemetry';
import { type ModelPrice } from './price-table.js';

const log = createLogger('llm-proxy');

/** Budgets and limits that apply to one tenant (undefined budget = unlimited, 0 rpm/tpm = unlimited). */
export interface LimitPolicy {
  budgetUsd?: number | undefined;
  userBudgetUsd?: number | undefined;
  rpm: number;
  tpm: number;
}

/** Budget amounts are whole nano-dollars, so Redis can add them atomically and exactly. */
export const NANOS_PER_USD = 1e9;

/** USD as nano-dollars; reservations round up so a reservation never undercounts. */
export function toNanos(usd: number, round: 'up' | 'nearest' = 'nearest'): number {
  const nanos = usd * NANOS_PER_USD;
  return round === 'up' ? Math.ceil(nanos - 1e-6) : Math.round(nanos);
}

/**
 * The most a request can cost, reserved against budgets before the call. Prompt tokens are bounded by
 * the UTF-8 bytes of the messages and tools as JSON (a token is never shorter than one byte), output by
 * the request's limit, else the model's, else `defaultMaxOutput`, times `n`. Cached-input discounts are
 * ignored: the worst case pays full price.
 */
export function worstCaseUsd(
  body: ChatCompletionRequest,
  price: ModelPrice,
  defaultMaxOutput: number,
): number {
  const promptBound =
    Buffer.byteLength(JSON.stringify(body.messages)) + Buffer.byteLength(JSON.stringify(body.tools ?? []));
  const perChoice =
    body.max_completion_tokens ?? body.max_tokens ?? price.max_output_tokens ?? defaultMaxOutput;
  const completionBound = perChoice * (body.n ?? 1);
  return (promptBound * price.input + completionBound * price.output) / 1e6;
}

/** A budget reservation to settle once the actual cost is known. */
export interface Reservation {
  tenant: string;
  user: string | undefined;
  month: string;
  nanos: number;
}

/** Rate-limit windows after admitting a request. */
export interface RateWindows {
  requests?: LlmLimitWindow;
  tokens?: LlmLimitWindow;
}

/** This month's spend and distinct users of a tenant. */
export interface MonthStats {
  costUsd: number;
  users: number;
}

/** The calendar month (UTC) of `now`, `YYYY-MM`: budgets and active users reset with it. */
export function monthOf(now: number): string {
  return new Date(now).toISOString().slice(0, 7);
}

function secondsToMonthEnd(now: number): number {
  const d = new Date(now);
  const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return Math.ceil((next - now) / 1000);
}

function budgetError(scope: 'tenant' | 'user', limitNanos: number, spentNanos: number, now: number) {
  return new RegattaError(
    'RESOURCE_EXHAUSTED',
    `monthly LLM budget of this ${scope} is used up ($${(spentNanos / NANOS_PER_USD).toFixed(4)} of $${(limitNanos / NANOS_PER_USD).toFixed(4)} including calls in flight)`,
    { budget: scope, limit_usd: limitNanos / NANOS_PER_USD, spent_usd: spentNanos / NANOS_PER_USD },
    secondsToMonthEnd(now),
  );
}

function windows(policy: LimitPolicy, requests: number, tokens: number, now: number): RateWindows {
  const reset = Math.ceil((60_000 - (now % 60_000)) / 1000);
  const out: RateWindows = {};
  if (policy.rpm > 0)
    out.requests = { limit: policy.rpm, remaining: Math.max(0, policy.rpm - requests), reset_s: reset };
  if (policy.tpm > 0)
    out.tokens = { limit: policy.tpm, remaining: Math.max(0, policy.tpm - tokens), reset_s: reset };
  return out;
}

function limitError(kind: 'rpm' | 'tpm', policy: LimitPolicy, now: number) {
  const reset = Math.ceil((60_000 - (now % 60_000)) / 1000);
  const what = kind === 'rpm' ? `${policy.rpm} requests` : `${policy.tpm} tokens`;
  return new RegattaError(
    'RESOURCE_EXHAUSTED',
    `tenant LLM limit of ${what} per minute reached`,
    { limit: kind },
    reset,
  );
}

/** Where budgets, rate-limit windows, spend and active users are counted. */
export interface LimitStore {
  readonly kind: 'redis' | 'memory';
  /** Counts one request against the tenant's RPM and checks its TPM; throws RESOURCE_EXHAUSTED when over. */
  admit(tenant: string, policy: LimitPolicy, now: number): Promise<RateWindows>;
  /** Adds tokens a provider processed to the tenant's current minute. */
  addTokens(tenant: string, tokens: number, now: number): Promise<void>;
  /** Reserves `nanos` against the tenant's and user's month atomically; throws RESOURCE_EXHAUSTED when either would overspend. */
  reserve(
    tenant: string,
    user: string | undefined,
    nanos: number,
    policy: LimitPolicy,
    now: number,
  ): Promise<Reservation>;
  /** Replaces a reservation by the actual cost (refunding the rest) and adds it to the month's spend. */
  commit(reservation: Reservation, actualNanos: number): Promise<void>;
  /** Counts `user` as active this month. */
  recordUser(tenant: string, user: string, now: number): Promise<void>;
  monthStats(tenant: string, now: number): Promise<MonthStats>;
}

/** Counting in process memory: exact within one process (embedded mode, or while Redis is down). */
export class MemoryLimitStore implements LimitStore {
  readonly kind = 'memory' as const;
  private readonly counters = new Map<string, number>();
  private readonly users = new Map<string, DistinctCounter>();

  private get(key: string): number {
    return this.counters.get(key) ?? 0;
  }

  private add(key: string, delta: number): number {
    const value = this.get(key) + delta;
    this.counters.set(key, value);
    return value;
  }

  admit(tenant: string, policy: LimitPolicy, now: number): Promise<RateWindows> {
    const minute = Math.floor(now / 60_000);
    this.prune(minute);
    const tokens = this.get(`t:${tenant}:${minute}`);
    if (policy.tpm > 0 && tokens >= policy.tpm) return Promise.reject(limitError('tpm', policy, now));
    const requests = this.get(`r:${tenant}:${minute}`);
    if (policy.rpm > 0 && requests >= policy.rpm) return Promise.reject(limitError('rpm', policy, now));
    this.add(`r:${tenant}:${minute}`, 1);
    return Promise.resolve(windows(policy, requests + 1, tokens, now));
  }

  addTokens(tenant: string, tokens: number, now: number): Promise<void> {
    this.add(`t:${tenant}:${Math.floor(now / 60_000)}`, tokens);
    return Promise.resolve();
  }

  reserve(
    tenant: string,
    user: string | undefined,
    nanos: number,
    policy: LimitPolicy,
    now: number,
  ): Promise<Reservation> {
    const month = monthOf(now);
    const tKey = `b:${tenant}:${month}`;
    const uKey = `b:${tenant}:${user}:${month}`;
    const tLimit = policy.budgetUsd === undefined ? -1 : toNanos(policy.budgetUsd);
    const uLimit = policy.userBudgetUsd === undefined ? -1 : toNanos(policy.userBudgetUsd);
    if (tLimit >= 0 && this.get(tKey) + nanos > tLimit)
      return Promise.reject(budgetError('tenant', tLimit, this.get(tKey), now));
    if (user !== undefined && uLimit >= 0 && this.get(uKey) + nanos > uLimit)
      return Promise.reject(budgetError('user', uLimit, this.get(uKey), now));
    this.add(tKey, nanos);
    if (user !== undefined) this.add(uKey, nanos);
    return Promise.resolve({ tenant, user, month, nanos });
  }

  commit(r: Reservation, actualNanos: number): Promise<void> {
    const delta = actualNanos - r.nanos;
    this.add(`b:${r.tenant}:${r.month}`, delta);
    if (r.user !== undefined) this.add(`b:${r.tenant}:${r.user}:${r.month}`, delta);
    this.add(`s:${r.tenant}:${r.month}`, actualNanos);
    return Promise.resolve();
  }

  recordUser(tenant: string, user: string, now: number): Promise<void> {
    const key = `${tenant}:${monthOf(now)}`;
    let counter = this.users.get(key);
    if (!counter) this.users.set(key, (counter = new DistinctCounter()));
    counter.add(user);
    return Promise.resolve();
  }

  monthStats(tenant: string, now: number): Promise<MonthStats> {
    const month = monthOf(now);
    return Promise.resolve({
      costUsd: this.get(`s:${tenant}:${month}`) / NANOS_PER_USD,
      users: this.users.get(`${tenant}:${month}`)?.count() ?? 0,
    });
  }

  /** Budget spent this month (reservations in flight included), for tests and views. */
  spentNanos(tenant: string, user: string | undefined, now: number): number {
    const month = monthOf(now);
    return this.get(user === undefined ? `b:${tenant}:${month}` : `b:${tenant}:${user}:${month}`);
  }

  private prune(minute: number): void {
    // Rate windows older than the previous minute can never be read again.
    if (this.counters.size < 10_000) return;
    for (const key of this.counters.keys()) {
      if (
        (key.startsWith('r:') || key.startsWith('t:')) &&
        Number(key.slice(key.lastIndexOf(':') + 1)) < minute - 1
      )
        this.counters.delete(key);
    }
  }
}

// Checks the tenant's token window, then counts the request in its request window (undone when over).
const ADMIT = `
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local tokens = tonumber(redis.call('GET', KEYS[2]) or '0')
if tpm > 0 and tokens >= tpm then return {2, 0, tokens} end
local reqs = redis.call('INCR', KEYS[1])
if reqs == 1 then redis.call('EXPIRE', KEYS[1], 120) end
if rpm > 0 and reqs > rpm then
  redis.call('DECR', KEYS[1])
  return {1, reqs - 1, tokens}
end
return {0, reqs, tokens}`;

// Check and reservation in one step, so concurrent requests cannot all pass the same check (#34732).
const RESERVE = `
local amount = tonumber(ARGV[1])
local tlimit = tonumber(ARGV[2])
local ulimit = tonumber(ARGV[3])
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
if tlimit >= 0 and spent + amount > tlimit then return {1, spent} end
if ARGV[5] == '1' then
  local uspent = tonumber(redis.call('GET', KEYS[2]) or '0')
  if ulimit >= 0 and uspent + amount > ulimit then return {2, uspent} end
  redis.call('INCRBY', KEYS[2], amount)
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
redis.call('INCRBY', KEYS[1], amount)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {0, spent + amount}`;

const MONTH_KEY_TTL_S = 40 * 86_400;

/**
 * Counting in Redis, shared by every replica: budget reservations and rate windows are Lua scripts
 * (check and count in one atomic step), active users a HyperLogLog per tenant and month. Keys of one
 * tenant share a hash tag. While Redis is unreachable the proxy keeps serving and counts in process
 * memory (per replica) until it is back.
 */
export class RedisLimitStore implements LimitStore {
  readonly kind = 'redis' as const;
  private readonly fallback = new MemoryLimitStore();
  private warned = false;

  constructor(
    private readonly redis: RedisHandle,
    private readonly prefix: string,
  ) {}

  private key(kind: string, tenant: string, rest: string): string {
    return `${this.prefix}:${kind}:{${encodeURIComponent(tenant)}}:${rest}`;
  }

  private async withRedis<T>(
    run: (client: NonNullable<ReturnType<RedisHandle['client']>>) => Promise<T>,
    local: () => Promise<T>,
  ): Promise<T> {
    const client = this.redis.client();
    if (client) {
      try {
        const value = await run(client);
        this.warned = false;
        return value;
      } catch (err) {
        if (err instanceof RegattaError) throw err;
        this.redis.commandFailed(err);
        if (!this.warned)
          log.warn(
            { err: (err as Error).message },
            'LLM budgets and limits counted in process while Redis fails',
          );
        this.warned = true;
      }
    }
    return local();
  }

  admit(tenant: string, policy: LimitPolicy, now: number): Promise<RateWindows> {
    if (policy.rpm === 0 && policy.tpm === 0) return Promise.resolve({});
    const minute = Math.floor(now / 60_000);
    return this.withRedis(
      async (client) => {
        const [verdict, requests, tokens] = (await client.eval(
          ADMIT,
          2,
          this.key('r', tenant, String(minute)),
          this.key('t', tenant, String(minute)),
          policy.rpm,
          policy.tpm,
        )) as [number, number, number];
        if (verdict === 1) throw limitError('rpm', policy, now);
        if (verdict === 2) throw limitError('tpm', policy, now);
        return windows(policy, requests, tokens, now);
      },
      () => this.fallback.admit(tenant, policy, now),
    );
  }

  addTokens(tenant: string, tokens: number, now: number): Promise<void> {
    if (tokens <= 0) return Promise.resolve();
    const key = this.key('t', tenant, String(Math.floor(now / 60_000)));
    return this.withRedis(
      async (client) => {
        await client.multi().incrby(key, tokens).expire(key, 120).exec();
      },
      () => this.fallback.addTokens(tenant, tokens, now),
    );
  }

  reserve(
    tenant: string,
    user: string | undefined,
    nanos: number,
    policy: LimitPolicy,
    now: number,
  ): Promise<Reservation> {
    const month = monthOf(now);
    const tLimit = policy.budgetUsd === undefined ? -1 : toNanos(policy.budgetUsd);
    const uLimit = policy.userBudgetUsd === undefined ? -1 : toNanos(policy.userBudgetUsd);
    return this.withRedis(
      async (client) => {
        const [verdict, spent] = (await client.eval(
          RESERVE,
          2,
          this.key('b', tenant, month),
          this.key('b', tenant, `${encodeURIComponent(user ?? '')}:${month}`),
          nanos,
          tLimit,
          uLimit,
          MONTH_KEY_TTL_S,
          user === undefined ? '0' : '1',
        )) as [number, number];
        if (verdict === 1) throw budgetError('tenant', tLimit, spent, now);
        if (verdict === 2) throw budgetError('user', uLimit, spent, now);
        return { tenant, user, month, nanos };
      },
      () => this.fallback.reserve(tenant, user, nanos, policy, now),
    );
  }

  commit(r: Reservation, actualNanos: number): Promise<void> {
    const delta = actualNanos - r.nanos;
    return this.withRedis(
      async (client) => {
        const tx = client.multi().incrby(this.key('b', r.tenant, r.month), delta);
        if (r.user !== undefined)
          tx.incrby(this.key('b', r.tenant, `${encodeURIComponent(r.user)}:${r.month}`), delta);
        const spend = this.key('s', r.tenant, r.month);
        await tx.incrby(spend, actualNanos).expire(spend, MONTH_KEY_TTL_S).exec();
      },
      () => this.fallback.commit(r, actualNanos),
    );
  }

  recordUser(tenant: string, user: string, now: number): Promise<void> {
    const key = this.key('u', tenant, monthOf(now));
    return this.withRedis(
      async (client) => {
        await client.multi().pfadd(key, user).expire(key, MONTH_KEY_TTL_S).exec();
      },
      () => this.fallback.recordUser(tenant, user, now),
    );
  }

  monthStats(tenant: string, now: number): Promise<MonthStats> {
    const month = monthOf(now);
    return this.withRedis(
      async (client) => {
        const [users, spent] = await Promise.all([
          client.pfcount(this.key('u', tenant, month)),
          client.get(this.key('s', tenant, month)),
        ]);
        return { costUsd: Number(spent ?? 0) / NANOS_PER_USD, users };
      },
      () => this.fallback.monthStats(tenant, now),
    );
  }
}
