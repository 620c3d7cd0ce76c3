import { type FieldStatus } from '@regatta/contracts';
import { counter, histogram } from '@regatta/telemetry';

/** Which API a request came through: the NATS contract or a route of the Feast HTTP API. */
export type FeaturesApi =
  'features.get.v1' | 'get-online-features' | 'push' | 'write-to-online-store' | 'materialize';

/** The features service's metrics, created once per process (embedded mode shares the registry). */
export const featuresMetrics = {
  requestDuration: histogram({
    name: 'features_request_duration_seconds',
    help: 'Time to answer a features request inside the service, by API (errors included)',
    labelNames: ['api'] as const,
  }),
  values: counter({
    name: 'features_values_total',
    help: 'Feature values served, by Feast field status (join-key columns not counted)',
    labelNames: ['status'] as const,
  }),
  valueAge: histogram({
    name: 'features_value_age_seconds',
    help: 'Age (now - event time) of the feature rows served, one observation per entity row and event time',
    // Freshness spans seconds (pushed) to days (batch): TTLs of hours and days sit on boundaries.
    buckets: [
      1,
      10,
      60,
      300,
      900,
      3600,
      3 * 3600,
      6 * 3600,
      12 * 3600,
      86_400,
      2 * 86_400,
      7 * 86_400,
      30 * 86_400,
    ],
  }),
};

/** Counts of a reply's feature values by status. */
export type StatusCounts = Record<FieldStatus, number>;
