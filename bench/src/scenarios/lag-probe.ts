// An idle Node process that only measures its own event-loop lag, the same way the inference service does
// (monitorEventLoopDelay at 5 ms, lateness beyond the interval). Run beside a benchmark, it shows the lag
// any process on this machine sees at that load: the floor under the service's own figure.
// Driven over IPC by its parent: 'reset' starts a window, 'report' answers { p99Ms, maxMs }.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const RESOLUTION_MS = 5;
const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
histogram.enable();
const excessMs = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);

process.on('message', (command: unknown) => {
  if (command === 'reset') histogram.reset();
  else if (command === 'report') {
    const seen = histogram.count > 0;
    process.send?.({
      p99Ms: seen ? excessMs(histogram.percentile(99)) : 0,
      maxMs: seen ? excessMs(histogram.max) : 0,
    });
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.('ready');
