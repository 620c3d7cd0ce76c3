import {
  type Contract,
  type ErrorCode,
  type ReplyOf,
  type RequestOf,
  RegattaError,
} from '@regatta/contracts';
import { gauge } from '@regatta/telemetry';
import { type EncodedReply, type RequestOptions, type RpcClient, remainingMs } from '@regatta/transport';
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
} from 'cockatiel';

const circuitState = gauge({
  name: 'gateway_circuit_state',
  help: 'Circuit breaker of each downstream service: 0 closed, 1 half-open (probing), 2 open (failing fast)',
  labelNames: ['service'],
});

/** Options of {@link Downstream}. */
export interface DownstreamOptions {
  /** Consecutive failures that open a service's breaker. */
  failures: number;
  /** How long an open breaker fails fast before one probe goes through. */
  halfOpenAfterMs: number;
  /**
   * A DEADLINE_EXCEEDED counts against the service only when the call had at least this long
   * (default 100 ms): otherwise a client sending tiny deadlines could open breakers for everyone.
   */
  minCountedTimeoutMs?: number;
}

/**
 * Failures that say the service is unwell (not that the request was wrong). OVERLOADED is not
 * one: an overloaded service is alive and already shedding what it cannot take; opening the
 * breaker would turn a partial overload (one hot model) into a full outage of the service.
 */
const COUNTED: ReadonlySet<ErrorCode> = new Set(['UNAVAILABLE', 'INTERNAL', 'DEADLINE_EXCEEDED']);

/** The service a subject belongs to: `inference.predict.v1` -> `inference`, `llm.*` -> `llm-proxy`. */
export function serviceOfSubject(subject: string): string {
  const head = subject.slice(0, subject.indexOf('.'));
  return head === 'llm' ? 'llm-proxy' : head;
}

/** An outcome the breaker should count as a success although the call failed (the service answered). */
class Passed {
  constructor(readonly error: unknown) {}
}

interface Breaker {
  policy: CircuitBreakerPolicy;
  openedAt: number;
}

/**
 * Calls to the fleet's services for HTTP routes: the RpcClient's deadline propagation, one retry
 * of idempotent calls on another replica (within the deadline and the retry budget), and a
 * circuit breaker per service, so a service that keeps failing is answered for at once with 503
 * + Retry-After instead of every caller waiting for its timeout.
 */
export class Downstream {
  private readonly breakers = new Map<string, Breaker>();

  constructor(
    readonly client: RpcClient,
    private readonly options: DownstreamOptions,
  ) {}

  /** One request/reply call through the service's breaker; idempotent contracts are retried once. */
  async request<C extends Contract>(
    c: C,
    data: RequestOf<C>,
    opts: RequestOptions = {},
  ): Promise<ReplyOf<C>> {
    return this.guarded(c.subject, opts, () =>
      this.client.request(c, data, { retry: c.idempotent, ...opts }),
    );
  }

  /** {@link request}, with the JSON bytes of the reply when they say what it says (RpcClient.requestEncoded). */
  async requestEncoded<C extends Contract>(
    c: C,
    data: RequestOf<C>,
    opts: RequestOptions = {},
  ): Promise<EncodedReply<ReplyOf<C>>> {
    return this.guarded(c.subject, opts, () =>
      this.client.requestEncoded(c, data, { retry: c.idempotent, ...opts }),
    );
  }

  /**
   * A streaming call: the breaker watches the stream's start (its first chunk); chunks are then
   * yielded as they come. Breaking out of the loop stops the stream.
   */
  async *stream<C extends Contract>(
    c: C,
    data: RequestOf<C>,
    opts: RequestOptions = {},
  ): AsyncGenerator<unknown> {
    const iterator = this.client.stream(c, data, opts)[Symbol.asyncIterator]();
    let done = false;
    try {
      const first = await this.guarded(c.subject, opts, () => iterator.next());
      if (first.done) {
        done = true;
        return;
      }
      yield first.value;
      for (;;) {
        const next = await iterator.next();
        if (next.done) {
          done = true;
          return;
        }
        yield next.value;
      }
    } finally {
      if (!done) await iterator.return?.(undefined);
    }
  }

  /** `closed`, `half-open` or `open` for a service. */
  state(service: string): 'closed' | 'half-open' | 'open' {
    const state = this.breakers.get(service)?.policy.state ?? CircuitState.Closed;
    return state === CircuitState.Closed ? 'closed' : state === CircuitState.HalfOpen ? 'half-open' : 'open';
  }

  private breaker(service: string): Breaker {
    let breaker = this.breakers.get(service);
    if (!breaker) {
      const policy = circuitBreaker(handleAll, {
        halfOpenAfter: this.options.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(this.options.failures),
      });
      const b: Breaker = { policy, openedAt: 0 };
      policy.onBreak(() => (b.openedAt = Date.now()));
      policy.onStateChange((state) =>
        circuitState.set(
          { service },
          state === CircuitState.Closed ? 0 : state === CircuitState.HalfOpen ? 1 : 2,
        ),
      );
      circuitState.set({ service }, 0);
      this.breakers.set(service, b);
      breaker = b;
    }
    return breaker;
  }

  private async guarded<T>(subject: string, opts: RequestOptions, call: () => Promise<T>): Promise<T> {
    const service = serviceOfSubject(subject);
    const breaker = this.breaker(service);
    const budget = Math.min(opts.timeoutMs ?? Number.POSITIVE_INFINITY, remainingMs());
    const minCounted = this.options.minCountedTimeoutMs ?? 100;
    let outcome: T | Passed;
    try {
      outcome = await breaker.policy.execute(async () => {
        try {
          return await call();
        } catch (err) {
          const counted =
            err instanceof RegattaError &&
            COUNTED.has(err.code) &&
            (err.code !== 'DEADLINE_EXCEEDED' || budget >= minCounted);
          if (counted) throw err;
          return new Passed(err);
        }
      });
    } catch (err) {
      if (err instanceof BrokenCircuitError) {
        const waitMs = Math.max(0, breaker.openedAt + this.options.halfOpenAfterMs - Date.now());
        throw new RegattaError(
          'UNAVAILABLE',
          `${service} is unavailable: its circuit breaker is open after repeated failures`,
          { service },
          Math.max(1, Math.ceil(waitMs / 1000)),
        );
      }
      throw err;
    }
    if (outcome instanceof Passed) throw outcome.error;
    return outcome;
  }
}
