import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { gauge } from '@regatta/telemetry';

/** Sampling interval of the event-loop monitor, in milliseconds. */
const RESOLUTION_MS = 5;

let histogram: IntervalHistogram | undefined;

/**
 * Exports `event_loop_lag_seconds{stat}`: how late the main thread ran a timer since the previous
 * scrape (p50, p99, max). Node's own histogram records the whole sampling interval; the interval is
 * subtracted here, so an idle loop reads about 0 rather than the resolution. Each scrape starts a new
 * window. The main thread does the NATS I/O and batching, so this is what inference's callers feel.
 */
export function exportEventLoopLag(): void {
  if (histogram) return;
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  histogram = h;
  const excess = (ns: number) => Math.max(0, ns / 1e9 - RESOLUTION_MS / 1000);
  gauge({
    name: 'event_loop_lag_seconds',
    help: `Main-thread event-loop lag since the previous scrape (timer lateness beyond its ${RESOLUTION_MS} ms interval)`,
    // `quantile` is reserved for summaries; this is a gauge per statistic.
    labelNames: ['stat'],
    collect() {
      const seen = h.count > 0;
      this.set({ stat: 'p50' }, seen ? excess(h.percentile(50)) : 0);
      this.set({ stat: 'p99' }, seen ? excess(h.percentile(99)) : 0);
      this.set({ stat: 'max' }, seen ? excess(h.max) : 0);
      h.reset();
    },
  });
}
