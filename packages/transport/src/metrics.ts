import {
  counter,
  fastHistogram,
  gauge,
  type Counter,
  type FastHistogram,
  type Gauge,
} from '@regatta/telemetry';

/** How many requests each server in this process has in flight, read when metrics are scraped. */
const inFlightReaders = new Set<{ service: string; read: () => number }>();

/** Reports `read()` under messaging_server_in_flight{service} until the returned function is called. */
export function trackInFlight(service: string, read: () => number): () => void {
  const reader = { service, read };
  inFlightReaders.add(reader);
  return () => inFlightReaders.delete(reader);
}

export const messagingMetrics: {
  clientDuration: FastHistogram<'subject' | 'outcome'>;
  serverDuration: FastHistogram<'subject' | 'outcome'>;
  serverInFlight: Gauge<'service'>;
  clientRetries: Counter<'subject'>;
} = {
  clientDuration: fastHistogram({
    name: 'messaging_client_operation_duration_seconds',
    help: 'Round trip of NATS requests made by this process, by subject and outcome (ok or error code)',
    labelNames: ['subject', 'outcome'],
  }),
  serverDuration: fastHistogram({
    name: 'messaging_server_operation_duration_seconds',
    help: 'Time to handle a NATS request, by subject and outcome (ok or error code)',
    labelNames: ['subject', 'outcome'],
  }),
  serverInFlight: gauge({
    name: 'messaging_server_in_flight',
    help: 'NATS requests being handled now',
    labelNames: ['service'],
    // Counted by each server as messages come and go; summed per service only when scraped.
    collect() {
      const byService = new Map<string, number>();
      for (const { service, read } of inFlightReaders)
        byService.set(service, (byService.get(service) ?? 0) + read());
      for (const [service, count] of byService) this.set({ service }, count);
    },
  }),
  clientRetries: counter({
    name: 'messaging_client_retries_total',
    help: 'NATS requests retried on another replica',
    labelNames: ['subject'],
  }),
};
