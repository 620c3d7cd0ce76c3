import { type LabelValues, SeriesMap } from './series-map.js';

/** One label set's counter: what a hot path keeps and calls. */
export interface CounterSeries {
  inc(value?: number): void;
}

/** What {@link FastCounter} is created with. */
export interface FastCounterConfiguration<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

/** A counter's lines as a prom-client registry reads them (what its `get()` returns). */
export interface CounterSnapshot {
  name: string;
  help: string;
  type: 'counter';
  aggregator: 'sum';
  values: { labels: Record<string, string | number>; value: number }[];
}

class Series implements CounterSeries {
  value = 0;

  constructor(readonly labels: Record<string, string | number>) {}

  inc(value = 1): void {
    // A counter only goes up; anything else would make rate() lie.
    if (value >= 0 && Number.isFinite(value)) this.value += value;
  }
}

/**
 * A Prometheus counter for hot paths, the counter beside {@link FastHistogram}: a label set resolves once
 * to a series (prom-client hashes the label object on every `inc`). It renders like prom-client's counter
 * in the same registry. Negative and non-finite increments are ignored rather than thrown.
 */
export class FastCounter<L extends string = string> {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly series: SeriesMap<L, Series>;

  constructor(config: FastCounterConfiguration<L>) {
    this.name = config.name;
    this.help = config.help;
    this.series = new SeriesMap(
      `counter ${this.name}`,
      config.labelNames ?? [],
      (labels) => new Series(labels),
    );
  }

  /** The series of one label set; keep it to count without resolving the labels again. */
  labels(labels: LabelValues<L> = {}): CounterSeries {
    return this.series.get(labels);
  }

  inc(labels: LabelValues<L> = {}, value = 1): void {
    this.labels(labels).inc(value);
  }

  reset(): void {
    this.series.clear();
  }

  get(): Promise<CounterSnapshot> {
    const values = [...this.series.values()].map((s) => ({ labels: s.labels, value: s.value }));
    return Promise.resolve({ name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' });
  }
}
