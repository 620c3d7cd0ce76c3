/** Label values by label name, as callers pass them to a metric. */
export type LabelValues<L extends string> = Partial<Record<L, string | number>>;

/**
 * The series of one metric, one per label set, found by a key built from the label values. A series is
 * created, and its label names checked, the first time its label set is seen.
 */
export class SeriesMap<L extends string, S> {
  private readonly series = new Map<string, S>();

  constructor(
    private readonly metric: string,
    readonly labelNames: readonly L[],
    private readonly create: (labels: Record<string, string | number>) => S,
  ) {}

  get(labels: LabelValues<L>): S {
    let key = '';
    for (const name of this.labelNames) key += `${labels[name] ?? ''}\u0000`;
    let series = this.series.get(key);
    if (!series) {
      for (const name of Object.keys(labels)) {
        if (!(this.labelNames as readonly string[]).includes(name))
          throw new Error(`${this.metric} has no label '${name}' (labels: ${this.labelNames.join(', ')})`);
      }
      const own: Record<string, string | number> = {};
      for (const name of this.labelNames) if (labels[name] !== undefined) own[name] = labels[name]!;
      series = this.create(own);
      this.series.set(key, series);
    }
    return series;
  }

  values(): IterableIterator<S> {
    return this.series.values();
  }

  clear(): void {
    this.series.clear();
  }
}
