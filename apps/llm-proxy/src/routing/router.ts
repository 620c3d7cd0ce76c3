import { RegattaError } from '@regatta/contracts';
import { upstreamAttempts } from '../metrics.js';
import { type Provider, UpstreamError, upstreamCancelled } from '../providers/provider.js';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js';
import { type RouteTarget, type RoutingTable } from './routing-config.js';

/** Options of a {@link Router}. */
export interface RouterOptions {
  table: RoutingTable;
  /** A provider instance per configured provider name. */
  providers: ReadonlyMap<string, Provider>;
  /** Further attempts at one provider after a retryable failure. */
  retries: number;
  /** First backoff; doubles per retry, "equal jitter" (half fixed, half random). */
  retryBaseMs: number;
  breaker: { failureThreshold: number; cooldownMs: number };
  random?: () => number;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** The provider and target that produced a value. */
export interface Routed<T> {
  value: T;
  provider: string;
  target: RouteTarget;
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * Sends a call along a model's route: providers in priority order (weighted chance within a priority),
 * skipping unconfigured providers and open circuits; retries retryable failures at one provider with
 * backoff while the deadline allows; then falls back to the next provider. The error that reaches the
 * caller is typed: RESOURCE_EXHAUSTED (with the shortest Retry-After) when every provider rate-limited,
 * DEADLINE_EXCEEDED when time ran out, UNAVAILABLE otherwise; a bad request fails at once.
 */
export class Router {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(private readonly options: RouterOptions) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
    for (const name of options.providers.keys())
      this.breakers.set(name, new CircuitBreaker({ ...options.breaker, now: this.now }));
  }

  /** Circuit state of every provider (for /health). */
  circuits(): Record<string, CircuitState> {
    return Object.fromEntries([...this.breakers].map(([name, b]) => [name, b.state]));
  }

  /** Targets of `model` in the order this call tries them. */
  order(model: string): RouteTarget[] {
    const targets = this.options.table.models.get(model) ?? [];
    const byPriority = new Map<number, RouteTarget[]>();
    for (const t of targets) byPriority.set(t.priority, [...(byPriority.get(t.priority) ?? []), t]);
    const ordered: RouteTarget[] = [];
    for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
      // Weighted shuffle: repeatedly draw one target with chance proportional to its weight.
      const pool = [...byPriority.get(priority)!];
      while (pool.length > 0) {
        const total = pool.reduce((sum, t) => sum + t.weight, 0);
        let pick = this.random() * total;
        let index = pool.findIndex((t) => (pick -= t.weight) < 0);
        if (index === -1) index = pool.length - 1;
        ordered.push(pool.splice(index, 1)[0]!);
      }
    }
    return ordered;
  }

  /** Runs `attempt` against the route of `model` until one provider succeeds. */
  async call<T>(
    model: string,
    deadline: number,
    signal: AbortSignal,
    attempt: (provider: Provider, target: RouteTarget) => Promise<T>,
  ): Promise<Routed<T>> {
    const failures: string[] = [];
    let rateLimited: RegattaError | undefined;
    let lastError: RegattaError | undefined;
    let skippedOpen = 0;
    let minRetryMs = Number.POSITIVE_INFINITY;
    const unconfigured: string[] = [];
    for (const target of this.order(model)) {
      const config = this.options.table.providers.get(target.provider);
      const provider = this.options.providers.get(target.provider);
      if (!provider || config?.type === 'unconfigured') {
        unconfigured.push(
          `${target.provider} (${config?.type === 'unconfigured' ? config.reason : 'missing'})`,
        );
        continue;
      }
      const breaker = this.breakers.get(target.provider)!;
      for (let retry = 0; retry <= this.options.retries; retry++) {
        if (signal.aborted) throw upstreamCancelled(target.provider).error;
        if (this.now() >= deadline) throw this.deadlineError(model, failures);
        if (!breaker.tryAcquire()) {
          skippedOpen++;
          minRetryMs = Math.min(minRetryMs, breaker.retryInMs());
          failures.push(`${target.provider}: circuit open`);
          break;
        }
        try {
          const value = await attempt(provider, target);
          breaker.onSuccess();
          upstreamAttempts.inc({ provider: target.provider, outcome: 'ok' });
          return { value, provider: target.provider, target };
        } catch (err) {
          const failure = err instanceof UpstreamError ? err : undefined;
          if (!failure) {
            breaker.onAbandon();
            throw err;
          }
          upstreamAttempts.inc({ provider: target.provider, outcome: failure.error.code });
          if (failure.advice.breaker) breaker.onFailure();
          else breaker.onAbandon();
          lastError = failure.error;
          failures.push(`${target.provider}: ${failure.error.message}`);
          if (!failure.advice.tryNext) throw failure.error;
          if (failure.error.code === 'RESOURCE_EXHAUSTED') {
            if (!rateLimited || (failure.error.retryAfterS ?? 0) < (rateLimited.retryAfterS ?? 0))
              rateLimited = failure.error;
          }
          if (!failure.advice.retrySame || retry === this.options.retries) break;
          const exponential = this.options.retryBaseMs * 2 ** retry;
          const delay = exponential / 2 + (this.random() * exponential) / 2;
          if (this.now() + delay >= deadline) break;
          await this.sleep(delay, signal);
        }
      }
    }
    if (unconfigured.length > 0 && failures.length === 0) {
      throw new RegattaError(
        'UNAVAILABLE',
        `model ${model} has no configured provider: ${unconfigured.join(', ')}`,
        { model },
      );
    }
    if (rateLimited && failures.every((f) => f.includes('rate limited') || f.includes('circuit open'))) {
      throw new RegattaError(
        'RESOURCE_EXHAUSTED',
        `every provider of ${model} is rate limiting: ${failures.join('; ')}`,
        { model },
        rateLimited.retryAfterS,
      );
    }
    if (this.now() >= deadline) throw this.deadlineError(model, failures);
    const retryAfter =
      skippedOpen > 0 && Number.isFinite(minRetryMs) ? Math.ceil(minRetryMs / 1000) : undefined;
    throw new RegattaError(
      'UNAVAILABLE',
      `every provider of ${model} failed: ${failures.join('; ') || lastError?.message || 'no attempt made'}`,
      { model },
      retryAfter,
    );
  }

  /** A stream that failed after it started: counts against its provider's circuit. */
  reportStreamFailure(provider: string): void {
    this.breakers.get(provider)?.onFailure();
  }

  private deadlineError(model: string, failures: string[]): RegattaError {
    return new RegattaError(
      'DEADLINE_EXCEEDED',
      `no provider of ${model} answered before the deadline${failures.length ? ` (${failures.join('; ')})` : ''}`,
      { model },
    );
  }
}
