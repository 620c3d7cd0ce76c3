import { counter, fastCounter, fastHistogram, gauge, LATENCY_BUCKETS } from '@regatta/telemetry';

/** Batch-size buckets in rows: powers of two up to 1024. */
export const BATCH_ROW_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** Duration buckets (seconds): the shared latency buckets plus sub-millisecond ones, where queue waits live. */
export const INFERENCE_SECONDS_BUCKETS = [0.00002, 0.00005, 0.0001, 0.00025, ...LATENCY_BUCKETS];

/** Why a request was refused or abandoned without a result. */
export type RejectReason = 'overloaded' | 'expired' | 'shed' | 'late' | 'cancelled' | 'too_large' | 'closing';

/** What a micro-batcher reports; a no-op implementation is the default so the batcher runs without metrics. */
export interface BatcherMetrics {
  rejected(reason: RejectReason): void;
  /** One execution of `rows` rows that took `computeSeconds` inside onnxruntime. */
  executed(rows: number, computeSeconds: number): void;
  /** Time one request spent queued before its batch started. */
  queueWait(seconds: number): void;
  /** Requests queued and not yet running. */
  pending(requests: number): void;
  /** The fitted cost model t = a + b·rows. */
  costModel(fixedSeconds: number, perRowSeconds: number): void;
}

/** Metrics that record nothing. */
export const NO_BATCHER_METRICS: BatcherMetrics = {
  rejected: () => undefined,
  executed: () => undefined,
  queueWait: () => undefined,
  pending: () => undefined,
  costModel: () => undefined,
};

/** Queue depth of each model version, kept by its batcher and read into the gauge at scrape time. */
const pendingNow = new Map<string, { labels: { model: string; version: string }; requests: number }>();

/** Triton-like inference metrics on the process registry, one set of children per model version. */
export class InferenceMetrics {
  private readonly requests = fastCounter({
    name: 'inference_requests_total',
    help: 'Inference requests by outcome (success or the error code, lower case)',
    labelNames: ['model', 'version', 'outcome'],
  });
  private readonly rows = counter({
    name: 'inference_rows_total',
    help: 'Rows executed; divided by inference_executions_total gives the mean batch size',
    labelNames: ['model', 'version'],
  });
  private readonly executions = counter({
    name: 'inference_executions_total',
    help: 'Model executions (batches run)',
    labelNames: ['model', 'version'],
  });
  private readonly batchRows = fastHistogram({
    name: 'inference_batch_rows',
    help: 'Rows per execution',
    labelNames: ['model', 'version'],
    buckets: BATCH_ROW_BUCKETS,
  });
  private readonly queueWaitSeconds = fastHistogram({
    name: 'inference_queue_wait_seconds',
    help: 'Time a request waited in the queue before its batch started',
    labelNames: ['model', 'version'],
    buckets: INFERENCE_SECONDS_BUCKETS,
  });
  private readonly computeSeconds = fastHistogram({
    name: 'inference_compute_seconds',
    help: 'Time onnxruntime spent running one batch',
    labelNames: ['model', 'version'],
    buckets: INFERENCE_SECONDS_BUCKETS,
  });
  private readonly requestSeconds = fastHistogram({
    name: 'inference_request_duration_seconds',
    help: 'Time from a predict call to its result or error',
    labelNames: ['model', 'version'],
    buckets: INFERENCE_SECONDS_BUCKETS,
  });
  private readonly pendingRequests = gauge({
    name: 'inference_pending_requests',
    help: 'Requests queued and not yet running',
    labelNames: ['model', 'version'],
    // The queue changes twice per request; the gauge reads it only when scraped.
    collect() {
      for (const { labels, requests } of pendingNow.values()) this.set(labels, requests);
    },
  });
  private readonly rejections = counter({
    name: 'inference_rejections_total',
    help: 'Requests refused or abandoned by the batcher, by reason',
    labelNames: ['model', 'version', 'reason'],
  });
  private readonly costFixed = gauge({
    name: 'inference_cost_model_fixed_seconds',
    help: 'Fitted fixed cost a of one execution (t = a + b * rows)',
    labelNames: ['model', 'version'],
  });
  private readonly costPerRow = gauge({
    name: 'inference_cost_model_per_row_seconds',
    help: 'Fitted cost b of one row (t = a + b * rows)',
    labelNames: ['model', 'version'],
  });
  private readonly workers = gauge({ name: 'inference_workers', help: 'Inference worker threads serving' });
  private readonly workerRestarts = counter({
    name: 'inference_worker_restarts_total',
    help: 'Inference worker threads replaced after an unexpected exit',
  });
  private readonly coldStart = gauge({
    name: 'inference_cold_start_seconds',
    help: 'Time to load and warm up every model in every worker at start',
  });

  /** Counts one finished predict call and its duration. */
  request(model: string, version: string, outcome: string, seconds: number): void {
    this.requests.inc({ model, version, outcome });
    this.requestSeconds.observe({ model, version }, seconds);
  }

  /**
   * Records a successful predict call of one model version, with the label children bound once: the
   * per-request path then looks nothing up.
   */
  successRecorder(model: string, version: string): (seconds: number) => void {
    const count = this.requests.labels({ model, version, outcome: 'success' });
    const duration = this.requestSeconds.labels({ model, version });
    return (seconds) => {
      count.inc();
      duration.observe(seconds);
    };
  }

  /** The batcher-facing metrics of one model version. */
  forModel(model: string, version: string): BatcherMetrics {
    const labels = { model, version };
    const rows = this.rows.labels(labels);
    const executions = this.executions.labels(labels);
    const batchRows = this.batchRows.labels(labels);
    const compute = this.computeSeconds.labels(labels);
    const wait = this.queueWaitSeconds.labels(labels);
    const queue = { labels, requests: 0 };
    pendingNow.set(`${model}:${version}`, queue);
    const fixed = this.costFixed.labels(labels);
    const perRow = this.costPerRow.labels(labels);
    return {
      rejected: (reason) => this.rejections.inc({ ...labels, reason }),
      executed: (n, seconds) => {
        rows.inc(n);
        executions.inc();
        batchRows.observe(n);
        compute.observe(seconds);
      },
      queueWait: (seconds) => wait.observe(seconds),
      pending: (n) => (queue.requests = n),
      costModel: (a, b) => {
        fixed.set(a);
        perRow.set(b);
      },
    };
  }

  /** Workers currently serving. */
  workerCount(n: number): void {
    this.workers.set(n);
  }

  /** One worker replaced after it died. */
  workerRestarted(): void {
    this.workerRestarts.inc();
  }

  /** Cold-start time of the engine. */
  coldStartSeconds(seconds: number): void {
    this.coldStart.set(seconds);
  }
}
