/**
 * Online estimate of one execution's duration t(n) = a + b·n (seconds, n rows), fitted by least
 * squares over the most recent `window` executions so it follows load and CPU contention.
 */
export class CostModel {
  private readonly rows: number[] = [];
  private readonly seconds: number[] = [];
  private next = 0;
  private a = 0;
  private b = 0;

  constructor(
    private readonly window: number,
    private readonly minSamples: number,
  ) {}

  /** Records one execution and refits. */
  observe(rows: number, seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    if (this.rows.length < this.window) {
      this.rows.push(rows);
      this.seconds.push(seconds);
    } else {
      this.rows[this.next] = rows;
      this.seconds[this.next] = seconds;
      this.next = (this.next + 1) % this.window;
    }
    this.fit();
  }

  /** Whether enough executions were seen to trust predictions. */
  get ready(): boolean {
    return this.rows.length >= this.minSamples;
  }

  /** Executions currently in the window. */
  get samples(): number {
    return this.rows.length;
  }

  /** Fitted fixed cost a, seconds per execution. */
  get fixedSeconds(): number {
    return this.a;
  }

  /** Fitted marginal cost b, seconds per row. */
  get perRowSeconds(): number {
    return this.b;
  }

  /** Predicted seconds for an execution of `rows` rows. */
  predict(rows: number): number {
    return this.a + this.b * rows;
  }

  private fit(): void {
    const n = this.rows.length;
    let sumN = 0;
    let sumT = 0;
    for (let i = 0; i < n; i++) {
      sumN += this.rows[i]!;
      sumT += this.seconds[i]!;
    }
    const meanN = sumN / n;
    const meanT = sumT / n;
    let sxx = 0;
    let sxy = 0;
    for (let i = 0; i < n; i++) {
      const dx = this.rows[i]! - meanN;
      sxx += dx * dx;
      sxy += dx * (this.seconds[i]! - meanT);
    }
    // With one batch size seen the slope is unknowable: all cost is treated as fixed. Costs cannot be
    // negative, so a negative slope (noise) is clamped and a negative intercept refitted through the origin.
    let b = sxx > 0 ? Math.max(0, sxy / sxx) : 0;
    let a = meanT - b * meanN;
    if (a < 0) {
      let snn = 0;
      let snt = 0;
      for (let i = 0; i < n; i++) {
        snn += this.rows[i]! * this.rows[i]!;
        snt += this.rows[i]! * this.seconds[i]!;
      }
      a = 0;
      b = snn > 0 ? snt / snn : 0;
    }
    this.a = a;
    this.b = b;
  }
}
