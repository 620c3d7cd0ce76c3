import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';
import { FastCounter, type FastCounterConfiguration } from './fast-counter.js';
import { FastHistogram, type FastHistogramConfiguration } from './fast-histogram.js';

/** Latency buckets (seconds) that contain every SLO threshold (25, 50 and 80 ms) as exact boundaries. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.25, 0.5,
  1, 2.5, 5,
];

// prom-client names three gauges `*_total`, which Prometheus' conventions (and promtool) reserve for counters.
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

let registry: Registry | undefined;

/**
 * The one metrics registry of this process, with Node's default metrics. It is an OpenMetrics
 * registry so latency histograms can keep exemplars; `renderMetrics` serves either format.
 */
export function getRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
    for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  }
  return registry;
}

/** Replaces the registry (tests only). */
export function resetRegistry(): void {
  registry?.clear();
  registry = undefined;
}

// Several services share one process in embedded mode, so a metric family is created once and reused.
function existing<T>(name: string): T | undefined {
  return getRegistry().getSingleMetric(name) as T | undefined;
}

/** A counter registered once per process under `name`. */
export function counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
  return existing<Counter<L>>(config.name) ?? new Counter({ ...config, registers: [getRegistry()] });
}

/** A gauge registered once per process under `name`. */
export function gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
  return existing<Gauge<L>>(config.name) ?? new Gauge({ ...config, registers: [getRegistry()] });
}

/** The metric registered under `name`, or the one `create` makes, registered now. */
function registeredOnce<T extends { name: string }>(name: string, create: () => T): T {
  const found = existing<T>(name);
  if (found) return found;
  const created = create();
  getRegistry().registerMetric(created as never);
  return created;
}

/** A {@link FastCounter} registered once per process under `name`, for counters bumped on every request. */
export function fastCounter<L extends string>(config: FastCounterConfiguration<L>): FastCounter<L> {
  return registeredOnce(config.name, () => new FastCounter<L>(config));
}

/**
 * A {@link FastHistogram} registered once per process under `name`; latency buckets unless given. For
 * histograms observed on every request that carry no exemplars.
 */
export function fastHistogram<L extends string>(
  config: Omit<FastHistogramConfiguration<L>, 'buckets'> & { buckets?: readonly number[] },
): FastHistogram<L> {
  return registeredOnce(config.name, () => new FastHistogram<L>({ buckets: LATENCY_BUCKETS, ...config }));
}

/** A histogram registered once per process under `name`; latency buckets unless given. */
export function histogram<L extends string>(
  config: Omit<HistogramConfiguration<L>, 'registers'>,
): Histogram<L> {
  return (
    existing<Histogram<L>>(config.name) ??
    new Histogram({ buckets: LATENCY_BUCKETS, ...config, registers: [getRegistry()] })
  );
}
