/** `closed`: calls flow; `open`: calls are refused until the cooldown ends; `half-open`: one trial call. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Options of a {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses calls before letting one trial through. */
  cooldownMs: number;
  now?: () => number;
}

/**
 * A per-provider circuit breaker: after `failureThreshold` consecutive failures the provider is skipped
 * for `cooldownMs`; then exactly one trial call may go through — success closes the circuit, failure
 * opens it for another cooldown. Callers that were refused try the next provider at once instead of
 * waiting on one that is down.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private current: CircuitState = 'closed';
  private trialInFlight = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The state, moving open to half-open once the cooldown is over. */
  get state(): CircuitState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.cooldownMs) {
      this.current = 'half-open';
      this.trialInFlight = false;
    }
    return this.current;
  }

  /** Whether a call may start now; in half-open state only the first caller gets the trial. */
  tryAcquire(): boolean {
    switch (this.state) {
      case 'closed':
        return true;
      case 'open':
        return false;
      case 'half-open':
        if (this.trialInFlight) return false;
        this.trialInFlight = true;
        return true;
    }
  }

  /** Milliseconds until an open circuit allows a trial (0 when not open). */
  retryInMs(): number {
    return this.state === 'open' ? Math.max(0, this.openedAt + this.options.cooldownMs - this.now()) : 0;
  }

  onSuccess(): void {
    this.failures = 0;
    this.current = 'closed';
    this.trialInFlight = false;
  }

  onFailure(): void {
    this.failures++;
    if (this.current === 'half-open' || this.failures >= this.options.failureThreshold) {
      this.current = 'open';
      this.openedAt = this.now();
      this.trialInFlight = false;
    }
  }

  /** Releases a half-open trial that ended without a verdict (e.g. the caller went away). */
  onAbandon(): void {
    this.trialInFlight = false;
  }
}
