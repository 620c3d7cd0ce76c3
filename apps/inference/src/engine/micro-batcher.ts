import { RegattaError } from '@regatta/contracts';

import { CostModel } from './cost-model.js';
import { NO_BATCHER_METRICS, type BatcherMetrics, type RejectReason } from './inference-metrics.js';
import { resolveBatcherOptions, type BatcherOptions } from './options.js';

/** One batch handed to the executor: `rows × cols` float32 values, row-major, in one buffer. */
export interface BatchJob {
  /** The model version to run (`name:version`). */
  modelKey: string;
  rows: number;
  cols: number;
  /** Owned by the executor once handed over: it may transfer the buffer to another thread. */
  data: Float32Array;
}

/** One output of a batch: `rows × cols` values, row-major. */
export interface OutputBlock {
  name: string;
  cols: number;
  data: ArrayLike<number>;
}

/** What an execution returns. */
export interface BatchResult {
  outputs: OutputBlock[];
  /** Time spent inside the model runtime, excluding transport. */
  computeSeconds: number;
}

/** The execution layer a batcher drives (a worker pool in production, a fake in tests). */
export interface BatchExecutor {
  /** How many batches could start right now. */
  idleSlots(): number;
  /** Subscribes to "capacity freed up"; returns the unsubscribe function. */
  onIdle(listener: () => void): () => void;
  /** Starts a batch at once; called only while `idleSlots() > 0`. */
  execute(job: BatchJob): Promise<BatchResult>;
}

/** Per-request options. */
export interface SubmitOptions {
  /** Absolute deadline, epoch milliseconds. */
  deadlineMs?: number;
  /** Aborting removes a queued request and stops waiting for a running one. */
  signal?: AbortSignal;
}

/** Outputs of one request: output name → one array of values per request row. */
export type RowOutputs = Record<string, number[][]>;

/** Counters and state of one batcher. */
export interface BatcherStats {
  modelKey: string;
  queuedRequests: number;
  queuedRows: number;
  runningBatches: number;
  executions: number;
  rows: number;
  meanBatchRows: number;
  rejections: Record<RejectReason, number>;
  costModel: { fixedSeconds: number; perRowSeconds: number; samples: number; ready: boolean };
}

/** Injectable clocks: `now` is monotonic milliseconds (durations), `wallNow` is epoch milliseconds (deadlines). */
export interface BatcherClock {
  now(): number;
  wallNow(): number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
/** Requests of one finished batch resolved per turn of the event loop (see resolveFrom). */
const DELIVERY_CHUNK = 32;

const SYSTEM_CLOCK: BatcherClock = { now: () => performance.now(), wallNow: () => Date.now() };

interface Pending {
  data: Float32Array;
  rows: number;
  enqueuedAt: number;
  deadline: number | undefined;
  state: 'queued' | 'running' | 'settled';
  resolve: (outputs: RowOutputs) => void;
  reject: (err: RegattaError) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface Running {
  startedAt: number;
  rows: number;
}

/**
 * Queues requests for one model version and runs them in batches. A request runs at once when a worker
 * is idle; otherwise requests accumulate (up to `maxBatchRows` rows) until one frees up. Expired,
 * cancelled and hopeless (per the fitted cost model) requests never start; each request settles exactly
 * once; nothing a request or an execution does can stop the loop.
 */
export class MicroBatcher {
  private readonly options: BatcherOptions;
  private readonly costModel: CostModel;
  private queue: (Pending | undefined)[] = [];
  private head = 0;
  private queuedRows = 0;
  private queuedRequests = 0;
  private readonly running = new Set<Running>();
  private readonly runningRequests = new Set<Pending>();
  private pumping = false;
  private stopped = false;
  private waitTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private drained: (() => void) | undefined;
  private readonly unsubscribe: () => void;
  private executions = 0;
  private executedRows = 0;
  private readonly rejections: Record<RejectReason, number> = {
    overloaded: 0,
    expired: 0,
    shed: 0,
    late: 0,
    cancelled: 0,
    too_large: 0,
    closing: 0,
  };

  constructor(
    readonly modelKey: string,
    private readonly cols: number,
    private readonly executor: BatchExecutor,
    options: Partial<BatcherOptions> = {},
    private readonly metrics: BatcherMetrics = NO_BATCHER_METRICS,
    private readonly clock: BatcherClock = SYSTEM_CLOCK,
  ) {
    this.options = resolveBatcherOptions(options);
    this.costModel = new CostModel(this.options.costWindow, this.options.costMinSamples);
    this.unsubscribe = executor.onIdle(() => this.pump());
  }

  /** Effective options (defaults filled in). */
  get settings(): Readonly<BatcherOptions> {
    return this.options;
  }

  /**
   * Queues `rows` rows (`data` holds `rows × cols` values; the batcher takes ownership of it) and
   * resolves with their outputs. Rejects with OVERLOADED when the queue is full, DEADLINE_EXCEEDED when
   * the deadline passes or cannot be met, INVALID_ARGUMENT when the request exceeds `maxBatchRows`.
   */
  submit(data: Float32Array, rows: number, options: SubmitOptions = {}): Promise<RowOutputs> {
    return new Promise<RowOutputs>((resolve, reject) => {
      // Refusals are counted and rejected through a method, not a closure made per request: the service
      // runs from a bundle that names every such closure at run time (esbuild's keepNames).
      if (this.closing) {
        this.refuse(
          reject,
          'closing',
          new RegattaError('UNAVAILABLE', `model ${this.modelKey} is shutting down`),
        );
        return;
      }
      if (rows > this.options.maxBatchRows) {
        this.refuse(
          reject,
          'too_large',
          new RegattaError(
            'INVALID_ARGUMENT',
            `request has ${rows} rows; model ${this.modelKey} takes at most ${this.options.maxBatchRows} per request`,
            { rows, max_batch_rows: this.options.maxBatchRows },
          ),
        );
        return;
      }
      if (!Number.isInteger(rows) || rows < 1 || data.length !== rows * this.cols) {
        reject(
          new RegattaError(
            'INVALID_ARGUMENT',
            `expected ${rows * this.cols} values for ${rows} rows of ${this.cols}`,
          ),
        );
        return;
      }
      if (options.signal?.aborted) {
        this.refuse(reject, 'cancelled', cancelled());
        return;
      }
      const wallNow = this.clock.wallNow();
      const deadline =
        options.deadlineMs ??
        (this.options.defaultTimeoutMs > 0 ? wallNow + this.options.defaultTimeoutMs : undefined);
      if (deadline !== undefined && deadline <= wallNow) {
        this.refuse(reject, 'expired', expired('before it was queued'));
        return;
      }
      if (this.queuedRows + rows > this.options.maxQueueRows) {
        this.refuse(reject, 'overloaded', this.overloaded());
        return;
      }
      if (deadline !== undefined && this.hopeless(rows, deadline, wallNow)) {
        this.refuse(reject, 'shed', shed());
        return;
      }

      const req: Pending = {
        data,
        rows,
        enqueuedAt: this.clock.now(),
        deadline,
        state: 'queued',
        resolve,
        reject,
        timer: undefined,
        signal: options.signal,
        onAbort: undefined,
      };
      // Node fires timers longer than 2^31 − 1 ms at once; such a far deadline needs no timer at all.
      if (deadline !== undefined && deadline - wallNow <= MAX_TIMER_MS) {
        req.timer = setTimeout(() => this.onDeadline(req), deadline - wallNow);
        req.timer.unref();
      }
      if (options.signal) {
        req.onAbort = () => {
          if (this.fail(req, cancelled())) this.count('cancelled');
        };
        options.signal.addEventListener('abort', req.onAbort, { once: true });
      }
      this.queue.push(req);
      this.queuedRows += rows;
      this.queuedRequests += 1;
      this.metrics.pending(this.queuedRequests);
      this.pump();
    });
  }

  /** Counters, queue depth and the fitted cost model. */
  stats(): BatcherStats {
    return {
      modelKey: this.modelKey,
      queuedRequests: this.queuedRequests,
      queuedRows: this.queuedRows,
      runningBatches: this.running.size,
      executions: this.executions,
      rows: this.executedRows,
      meanBatchRows: this.executions === 0 ? 0 : this.executedRows / this.executions,
      rejections: { ...this.rejections },
      costModel: {
        fixedSeconds: this.costModel.fixedSeconds,
        perRowSeconds: this.costModel.perRowSeconds,
        samples: this.costModel.samples,
        ready: this.costModel.ready,
      },
    };
  }

  /** Stops accepting requests and resolves once every queued and running request has settled. */
  drain(): Promise<void> {
    this.closing = true;
    return new Promise<void>((resolve) => {
      this.drained = resolve;
      this.checkDrained();
    });
  }

  /** Fails every request still queued or running with UNAVAILABLE (used when a drain times out). */
  abort(message = `model ${this.modelKey} is shutting down`): void {
    this.closing = true;
    this.stopped = true;
    const err = new RegattaError('UNAVAILABLE', message);
    for (let i = this.head; i < this.queue.length; i++) {
      const req = this.queue[i];
      if (req && this.fail(req, err)) this.count('closing');
    }
    for (const req of this.runningRequests) if (this.fail(req, err)) this.count('closing');
    this.checkDrained();
  }

  /** Detaches from the executor; call after drain/abort. */
  dispose(): void {
    if (this.waitTimer) clearTimeout(this.waitTimer);
    this.unsubscribe();
  }

  /** Starts batches while work is queued and the executor has room. Re-entrant calls are no-ops. */
  private pump(): void {
    if (this.pumping || this.stopped) {
      this.checkDrained();
      return;
    }
    this.pumping = true;
    try {
      while (this.queuedRequests > 0 && this.executor.idleSlots() > 0) {
        const oldest = this.peek();
        if (!oldest) break;
        if (this.options.maxWaitMs > 0 && this.queuedRows < this.options.maxBatchRows) {
          const waited = this.clock.now() - oldest.enqueuedAt;
          if (waited < this.options.maxWaitMs) {
            this.armWaitTimer(this.options.maxWaitMs - waited);
            break;
          }
        }
        const batch = this.takeBatch();
        if (batch.length > 0) this.dispatch(batch);
      }
    } finally {
      this.pumping = false;
    }
    this.checkDrained();
  }

  /** The oldest live queued request, discarding settled ones from the front. */
  private peek(): Pending | undefined {
    while (this.head < this.queue.length) {
      const req = this.queue[this.head];
      if (req && req.state === 'queued') return req;
      this.queue[this.head] = undefined;
      this.head += 1;
    }
    // Everything was consumed: start over instead of letting the array grow forever.
    this.queue = [];
    this.head = 0;
    return undefined;
  }

  private shift(): void {
    this.queue[this.head] = undefined;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Takes whole requests, oldest first, up to `maxBatchRows` rows. Expired requests are dropped; once the
   * cost model is trusted, requests that would miss their deadline even alone are shed, and the batch
   * stops growing before it would make any member late.
   */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let rows = 0;
    let earliestDeadline = Infinity;
    const wallNow = this.clock.wallNow();
    const judge = this.options.shedding && this.costModel.ready;
    for (let req = this.peek(); req; req = this.peek()) {
      if (req.deadline !== undefined && req.deadline <= wallNow) {
        this.shift();
        if (this.fail(req, expired('while queued'))) this.count('expired');
        continue;
      }
      if (judge && req.deadline !== undefined && wallNow + this.predictMs(req.rows) > req.deadline) {
        this.shift();
        if (this.fail(req, shed())) this.count('shed');
        continue;
      }
      if (rows + req.rows > this.options.maxBatchRows) break;
      const deadline = Math.min(earliestDeadline, req.deadline ?? Infinity);
      if (judge && batch.length > 0 && wallNow + this.predictMs(rows + req.rows) > deadline) break;
      this.shift();
      this.dequeued(req);
      batch.push(req);
      rows += req.rows;
      earliestDeadline = deadline;
    }
    return batch;
  }

  /** The cost model's time for a batch of `rows` rows, in ms. */
  private predictMs(rows: number): number {
    return this.costModel.predict(rows) * 1000;
  }

  private dispatch(batch: Pending[]): void {
    const now = this.clock.now();
    let rows = 0;
    for (const req of batch) rows += req.rows;
    let data: Float32Array;
    if (batch.length === 1) {
      data = batch[0]!.data;
    } else {
      data = new Float32Array(rows * this.cols);
      let offset = 0;
      for (const req of batch) {
        data.set(req.data, offset);
        offset += req.data.length;
      }
    }
    for (const req of batch) {
      req.state = 'running';
      this.runningRequests.add(req);
      this.metrics.queueWait((now - req.enqueuedAt) / 1000);
    }
    if (this.waitTimer && this.queuedRequests === 0) {
      clearTimeout(this.waitTimer);
      this.waitTimer = undefined;
    }

    const entry: Running = { startedAt: now, rows };
    this.running.add(entry);
    let execution: Promise<BatchResult>;
    try {
      execution = this.executor.execute({ modelKey: this.modelKey, rows, cols: this.cols, data });
    } catch (err) {
      execution = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    execution
      .then(
        (result) => {
          this.costModel.observe(rows, (this.clock.now() - entry.startedAt) / 1000);
          this.metrics.costModel(this.costModel.fixedSeconds, this.costModel.perRowSeconds);
          this.metrics.executed(rows, result.computeSeconds);
          this.executions += 1;
          this.executedRows += rows;
          this.deliver(batch, rows, result);
        },
        (err: unknown) => {
          const failure =
            err instanceof RegattaError
              ? err
              : new RegattaError('INTERNAL', `model ${this.modelKey} failed to run the batch`);
          for (const req of batch) this.fail(req, failure);
        },
      )
      .catch(() => {
        // deliver() guards every request itself; this only keeps a bug there from becoming an unhandled rejection.
        for (const req of batch)
          this.fail(req, new RegattaError('INTERNAL', 'failed to deliver the batch results'));
      })
      .finally(() => {
        this.running.delete(entry);
        for (const req of batch) this.runningRequests.delete(req);
        this.pump();
      });
  }

  /** Splits the batch outputs back into per-request rows. */
  private deliver(batch: Pending[], rows: number, result: BatchResult): void {
    for (const block of result.outputs) {
      if (block.data.length !== rows * block.cols) {
        const err = new RegattaError(
          'INTERNAL',
          `model ${this.modelKey} returned ${block.data.length} values in output '${block.name}' for a batch of ${rows} rows`,
        );
        for (const req of batch) this.fail(req, err);
        return;
      }
    }
    let offset = 0;
    const results: [Pending, RowOutputs][] = [];
    for (const req of batch) {
      const first = offset;
      offset += req.rows;
      if (req.state !== 'running') continue;
      const outputs: RowOutputs = {};
      for (const block of result.outputs) {
        const perRow: number[][] = [];
        for (let r = first; r < first + req.rows; r++) {
          const row: number[] = new Array<number>(block.cols);
          for (let c = 0; c < block.cols; c++) row[c] = block.data[r * block.cols + c]!;
          perRow.push(row);
        }
        outputs[block.name] = perRow;
      }
      results.push([req, outputs]);
    }
    this.resolveFrom(results, 0);
  }

  /**
   * Resolves results in chunks of DELIVERY_CHUNK requests, one chunk per turn of the event loop: every
   * resolved request goes on to encode and send its reply, and a large batch doing that all at once
   * would hold up timers and I/O. A request that settled meanwhile (deadline, cancellation) is skipped.
   */
  private resolveFrom(results: [Pending, RowOutputs][], start: number): void {
    const end = Math.min(results.length, start + DELIVERY_CHUNK);
    for (let i = start; i < end; i++) {
      const [req, outputs] = results[i]!;
      if (req.state === 'settled') continue;
      this.settle(req);
      req.resolve(outputs);
    }
    if (end < results.length) setImmediate(() => this.resolveFrom(results, end));
  }

  /** Rejects a request unless it already settled; returns whether this call settled it. */
  private fail(req: Pending, err: RegattaError): boolean {
    if (req.state === 'settled') return false;
    if (req.state === 'queued') this.dequeued(req);
    this.settle(req);
    req.reject(err);
    this.pump();
    return true;
  }

  private settle(req: Pending): void {
    req.state = 'settled';
    if (req.timer) clearTimeout(req.timer);
    if (req.onAbort) req.signal?.removeEventListener('abort', req.onAbort);
    this.runningRequests.delete(req);
  }

  private dequeued(req: Pending): void {
    this.queuedRows -= req.rows;
    this.queuedRequests -= 1;
    this.metrics.pending(this.queuedRequests);
  }

  private onDeadline(req: Pending): void {
    if (req.state === 'queued') {
      if (this.fail(req, expired('while queued'))) this.count('expired');
    } else if (req.state === 'running') {
      // The batch keeps running (a run cannot be interrupted); its late result is discarded on arrival.
      if (this.fail(req, expired('while its batch was running', 'late'))) this.count('late');
    }
  }

  /**
   * Lower bound on when a new request could finish: it starts no earlier than the first free worker
   * (now if one is idle, else when this model's earliest running batch is predicted to end).
   */
  private hopeless(rows: number, deadline: number, wallNow: number): boolean {
    if (!this.options.shedding || !this.costModel.ready) return false;
    let startInMs = 0;
    if (this.executor.idleSlots() === 0 && this.running.size > 0) {
      const now = this.clock.now();
      startInMs = Infinity;
      for (const r of this.running) {
        startInMs = Math.min(
          startInMs,
          Math.max(0, r.startedAt + this.costModel.predict(r.rows) * 1000 - now),
        );
      }
    }
    return wallNow + startInMs + this.costModel.predict(rows) * 1000 > deadline;
  }

  private overloaded(): RegattaError {
    // Suggest retrying once the current queue would have drained, in whole seconds as Retry-After needs.
    const batches = Math.ceil(this.queuedRows / this.options.maxBatchRows);
    const drainS = batches * this.costModel.predict(this.options.maxBatchRows);
    return new RegattaError(
      'OVERLOADED',
      `model ${this.modelKey} is overloaded: ${this.queuedRows} rows queued (limit ${this.options.maxQueueRows})`,
      { queued_rows: this.queuedRows, max_queue_rows: this.options.maxQueueRows },
      Math.max(1, Math.ceil(drainS)),
    );
  }

  private armWaitTimer(ms: number): void {
    if (this.waitTimer) return;
    this.waitTimer = setTimeout(() => {
      this.waitTimer = undefined;
      this.pump();
    }, ms);
    this.waitTimer.unref();
  }

  private refuse(reject: (err: RegattaError) => void, reason: RejectReason, err: RegattaError): void {
    this.count(reason);
    reject(err);
  }

  private count(reason: RejectReason): void {
    this.rejections[reason] += 1;
    this.metrics.rejected(reason);
  }

  private checkDrained(): void {
    if (this.drained && this.queuedRequests === 0 && this.running.size === 0) {
      const done = this.drained;
      this.drained = undefined;
      done();
    }
  }
}

function expired(when: string, reason: 'expired' | 'late' = 'expired'): RegattaError {
  return new RegattaError('DEADLINE_EXCEEDED', `deadline exceeded ${when}`, { reason });
}

function shed(): RegattaError {
  return new RegattaError('DEADLINE_EXCEEDED', 'deadline cannot be met at the current load; request shed', {
    reason: 'shed',
  });
}

function cancelled(): RegattaError {
  return new RegattaError('DEADLINE_EXCEEDED', 'request cancelled by the caller', { reason: 'cancelled' });
}
