import { counter, gauge, histogram, type Counter, type Gauge, type Histogram } from '@regatta/telemetry';

export const messagingMetrics: {
  clientDuration: Histogram<'subject' | 'outcome'>;
  serverDuration: Histogram<'subject' | 'outcome'>;
  serverInFlight: Gauge<'service'>;
  clientRetries: Counter<'subject'>;
} = {
  clientDuration: histogram({
    name: 'messaging_client_operation_duration_seconds',
    help: 'Round trip of NATS requests made by this process, by subject and outcome (ok or error code)',
    labelNames: ['subject', 'outcome'],
  }),
  serverDuration: histogram({
    name: 'messaging_server_operation_duration_seconds',
    help: 'Time to handle a NATS request, by subject and outcome (ok or error code)',
    labelNames: ['subject', 'outcome'],
  }),
  serverInFlight: gauge({
    name: 'messaging_server_in_flight',
    help: 'NATS requests being handled now',
    labelNames: ['service'],
  }),
  clientRetries: counter({
    name: 'messaging_client_retries_total',
    help: 'NATS requests retried on another replica',
    labelNames: ['subject'],
  }),
};
