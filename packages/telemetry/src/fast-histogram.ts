import { type LabelValues, SeriesMap } from './series-map.js';

/** One line of a histogram as a prom-client registry reads it. */
export interface HistogramSample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/** A histogram's lines as a prom-client registry reads them (what its `get()` returns). */
export interface HistogramSnapshot {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: HistogramSample[];
}

/** One label set's recorder: what a hot path keeps and calls. */
export interface HistogramSeries {
  observe(value: number): void;
}

/** What {@link FastHistogram} is created with. */
export interface FastHistogramConfiguration<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  /** Upper bounds, ascending (a `+Inf` bucket is always added). */
  buckets: readonly number[];
}

class Series implements HistogramSeries {
  /** Per-bucket counts, not cumulative; the last slot is `+Inf`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string | number>,
    private readonly bounds: Float64Array,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    // A non-number would poison the sum for every later scrape; it is not a duration, so it is dropped.
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram for hot paths. prom-client's `observe` hashes the label object and allocates on
 * every call (about 0.23 µs, Node 20); here a label set is resolved once to a series, and observing is a
 * bucket search and three additions (about 0.02 µs). It renders exactly like prom-client's histogram
 * (registered in the same registry, same `_bucket`/`_sum`/`_count` lines) but keeps no exemplars; the
 * histograms that carry trace exemplars stay prom-client's.
 */
export class FastHistogram<L extends string = string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly bounds: Float64Array;
  private readonly series: SeriesMap<L, Series>;

  constructor(config: FastHistogramConfiguration<L>) {
    this.name = config.name;
    this.help = config.help;
    const bounds = [...config.buckets];
    for (let i = 0; i < bounds.length; i++) {
      if (!Number.isFinite(bounds[i]) || (i > 0 && bounds[i]! <= bounds[i - 1]!))
        throw new Error(
          `histogram ${this.name}: buckets must be finite and ascending, got ${bounds.join(', ')}`,
        );
    }
    this.bounds = Float64Array.from(bounds);
    this.series = new SeriesMap(
      `histogram ${this.name}`,
      config.labelNames ?? [],
      (labels) => new Series(labels, this.bounds),
    );
  }

  /** The series of one label set; keep it to observe without resolving the labels again. */
  labels(labels: LabelValues<L> = {}): HistogramSeries {
    return this.series.get(labels);
  }

  observe(labels: LabelValues<L>, value: number): void {
    this.labels(labels).observe(value);
  }

  /** Starts a timer; calling the result observes the seconds since, and returns them. */
  startTimer(labels: LabelValues<L> = {}): () => number {
    const series = this.labels(labels);
    const started = performance.now();
    return () => {
      const seconds = (performance.now() - started) / 1000;
      series.observe(seconds);
      return seconds;
    };
  }

  reset(): void {
    this.series.clear();
  }

  /** The registry's view: cumulative buckets, `+Inf`, sum and count per label set. */
  get(): Promise<HistogramSnapshot> {
    const values: HistogramSample[] = [];
    for (const series of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += series.counts[i]!;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { le: i < this.bounds.length ? this.bounds[i]! : '+Inf', ...series.labels },
          value: cumulative,
        });
      }
      values.push({ metricName: `${this.name}_sum`, labels: series.labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: series.labels, value: series.count });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: 'histogram',
      values,
      aggregator: 'sum',
    });
  }
}
