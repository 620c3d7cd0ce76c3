import { counter, gauge } from '@regatta/telemetry';

const inFlight = gauge({
  name: 'gateway_in_flight_requests',
  help: 'HTTP requests this gateway process is serving now (system routes excluded)',
});
const shed = counter({
  name: 'gateway_shed_total',
  help: 'HTTP requests refused at once with 503 because too many were in flight',
});

/**
 * Load shedding on concurrency: past `limit` requests in flight, new ones are refused before any
 * work (auth, parsing) is spent on them, so admitted requests keep their latency under overload.
 */
export class InFlightLimiter {
  private current = 0;

  constructor(readonly limit: number) {}

  /** Requests being served now. */
  get inFlight(): number {
    return this.current;
  }

  /** Admits one request (call `release` when it ends) or refuses it. */
  tryAcquire(): boolean {
    if (this.current >= this.limit) {
      shed.inc();
      return false;
    }
    this.current++;
    inFlight.set(this.current);
    return true;
  }

  release(): void {
    this.current--;
    inFlight.set(this.current);
  }
}
