import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { RegattaError } from '@regatta/contracts';
import { createLogger, type Logger } from '@regatta/telemetry';

import type { BatchExecutor, BatchJob, BatchResult } from './micro-batcher.js';
import type { InferenceMetrics } from './inference-metrics.js';
import type {
  FromWorker,
  ToWorker,
  WorkerInit,
  WorkerModelSpec,
  WorkerModelTiming,
} from './worker-protocol.js';

/**
 * onnxruntime options of every session: one intra-op and one inter-op thread (parallelism comes from
 * running several workers), and no spinning, so idle sessions do not burn the cores other workers need.
 * The binding flattens `extra` into dotted config keys (`session.intra_op.allow_spinning`).
 */
export const DEFAULT_SESSION_OPTIONS: Readonly<Record<string, unknown>> = Object.freeze({
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
});

/** The worker entry beside this module: src/engine under jest, dist/engine once built (the build copies it). */
export const DEFAULT_WORKER_SCRIPT = new URL('./inference-worker.mjs', import.meta.url);

/** Options of {@link WorkerPool.start}. */
export interface WorkerPoolOptions {
  /** Number of worker threads. */
  size: number;
  /** Model versions every worker opens. */
  models: WorkerModelSpec[];
  sessionOptions?: Record<string, unknown>;
  /** Worker entry file; tests substitute a wrapper. */
  workerScript?: URL;
  /** Longest a worker may take to load and warm up every model (default 60 s). */
  startTimeoutMs?: number;
  /** First delay before replacing a worker that keeps failing to start; doubles up to 30 s (default 500 ms). */
  restartDelayMs?: number;
  logger?: Logger;
  metrics?: InferenceMetrics;
}

/** State of the pool. */
export interface WorkerPoolStats {
  size: number;
  /** Workers loaded and serving (idle or busy). */
  live: number;
  busy: number;
  restarts: number;
  /** Time from start() to every worker having loaded and warmed up every model. */
  coldStartMs: number;
  /** Load and warm-up time of each model in the first worker. */
  models: WorkerModelTiming[];
  /** Every worker slot: its state and what its current thread reported when it became ready. */
  workers: { index: number; state: Slot['state']; models: WorkerModelTiming[] }[];
}

interface InFlight {
  id: number;
  key: string;
  resolve: (result: BatchResult) => void;
  reject: (err: RegattaError) => void;
}

interface Slot {
  index: number;
  worker: Worker;
  state: 'starting' | 'idle' | 'busy' | 'stopping' | 'dead';
  job: InFlight | undefined;
  timings: WorkerModelTiming[];
}

/**
 * A fixed number of worker threads, each with its own onnxruntime session per model version. Batches go
 * to an idle worker as transferred ArrayBuffers; a worker that dies is replaced, failing only the batch
 * it was running.
 */
export class WorkerPool implements BatchExecutor {
  private readonly slots: Slot[] = [];
  private readonly idle: Slot[] = [];
  private readonly listeners: (() => void)[] = [];
  private rotation = 0;
  private nextId = 1;
  private restarts = 0;
  private closing = false;
  private coldStartMs = 0;
  private timings: WorkerModelTiming[] = [];
  private readonly init: WorkerInit;
  private readonly script: string;
  private readonly log: Logger;

  private constructor(private readonly options: WorkerPoolOptions) {
    this.init = {
      models: options.models,
      sessionOptions: { ...(options.sessionOptions ?? DEFAULT_SESSION_OPTIONS) },
    };
    this.script = fileURLToPath(options.workerScript ?? DEFAULT_WORKER_SCRIPT);
    this.log = options.logger ?? createLogger('inference-workers');
  }

  /** Starts `size` workers and resolves once every one has loaded and warmed up every model. */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new Error(`worker pool size must be a positive integer, got ${options.size}`);
    }
    const pool = new WorkerPool(options);
    const started = performance.now();
    const results = await Promise.allSettled(Array.from({ length: options.size }, (_, i) => pool.spawn(i)));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await pool.close();
      throw failure.reason;
    }
    pool.coldStartMs = performance.now() - started;
    pool.options.metrics?.workerCount(pool.live());
    return pool;
  }

  idleSlots(): number {
    return this.idle.length;
  }

  onIdle(listener: () => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  execute(job: BatchJob): Promise<BatchResult> {
    const slot = this.idle.pop();
    if (!slot) return Promise.reject(new RegattaError('INTERNAL', 'no idle inference worker'));
    return new Promise<BatchResult>((resolve, reject) => {
      const id = this.nextId++;
      slot.state = 'busy';
      slot.job = { id, key: job.modelKey, resolve, reject };
      // Only a view covering its whole buffer can be handed over as is; anything else is copied once.
      const data =
        job.data.byteOffset === 0 && job.data.byteLength === job.data.buffer.byteLength
          ? job.data
          : job.data.slice();
      const buffer = data.buffer as ArrayBuffer;
      const message: ToWorker = { type: 'run', id, key: job.modelKey, rows: job.rows, buffer };
      slot.worker.postMessage(message, [buffer]);
    });
  }

  /** Workers, their state and start-up timings. */
  stats(): WorkerPoolStats {
    return {
      size: this.options.size,
      live: this.live(),
      busy: this.slots.filter((s) => s.state === 'busy').length,
      restarts: this.restarts,
      coldStartMs: this.coldStartMs,
      models: this.timings,
      workers: this.slots.map((s) => ({ index: s.index, state: s.state, models: s.timings })),
    };
  }

  /** Stops every worker (after its running batch) and waits for the threads to exit. */
  async close(): Promise<void> {
    this.closing = true;
    this.idle.length = 0;
    await Promise.all(this.slots.map((slot) => this.stopSlot(slot)));
    this.options.metrics?.workerCount(0);
  }

  private live(): number {
    return this.slots.filter((s) => s.state === 'idle' || s.state === 'busy').length;
  }

  /** Starts the worker for slot `index`; resolves when it is ready, rejects if it cannot start. */
  private spawn(index: number): Promise<void> {
    const worker = new Worker(this.script, { workerData: this.init });
    const slot: Slot = { index, worker, state: 'starting', job: undefined, timings: [] };
    this.slots[index] = slot;
    return new Promise<void>((resolve, reject) => {
      const timeoutMs = this.options.startTimeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        fail(new Error(`inference worker ${index} did not load its models within ${timeoutMs} ms`));
        void worker.terminate();
      }, timeoutMs);
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err);
      };
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'ready':
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            if (this.closing) {
              void this.stopSlot(slot);
              resolve();
              return;
            }
            if (this.timings.length === 0) this.timings = message.models;
            slot.timings = message.models;
            slot.state = 'idle';
            this.idle.push(slot);
            this.log.info({ worker: index, models: message.models }, 'inference worker ready');
            resolve();
            this.emitIdle();
            return;
          case 'fatal':
            fail(new Error(`inference worker ${index} failed to start: ${message.message}`));
            void worker.terminate();
            return;
          case 'result':
          case 'failed':
            this.finish(slot, message);
            return;
          default: {
            const unexpected: never = message;
            this.log.warn({ worker: index, message: unexpected }, 'unexpected message from inference worker');
          }
        }
      });
      worker.on('error', (err) => {
        this.log.error({ worker: index, err }, 'inference worker error');
        fail(new Error(`inference worker ${index} crashed while starting: ${err.message}`));
      });
      worker.on('exit', (code) => {
        fail(new Error(`inference worker ${index} exited with code ${code} while starting`));
        this.onExit(slot, code);
      });
    });
  }

  private finish(slot: Slot, message: Extract<FromWorker, { type: 'result' | 'failed' }>): void {
    const job = slot.job;
    if (!job || job.id !== message.id) return;
    slot.job = undefined;
    if (slot.state === 'busy') {
      slot.state = 'idle';
      this.idle.push(slot);
    }
    if (message.type === 'result') {
      job.resolve({
        computeSeconds: message.computeMs / 1000,
        outputs: message.outputs.map((o) => ({
          name: o.name,
          cols: o.cols,
          data: o.kind === 'f32' ? new Float32Array(o.buffer) : new Float64Array(o.buffer),
        })),
      });
    } else {
      this.log.warn({ worker: slot.index, model: job.key, error: message.message }, 'inference batch failed');
      job.reject(
        new RegattaError(
          'INTERNAL',
          `model ${job.key} failed to run the batch: ${message.message.split('\n')[0]}`,
        ),
      );
    }
    this.emitIdle();
  }

  private onExit(slot: Slot, code: number): void {
    const wasServing = slot.state === 'idle' || slot.state === 'busy';
    const i = this.idle.indexOf(slot);
    if (i >= 0) this.idle.splice(i, 1);
    const job = slot.job;
    slot.job = undefined;
    const expected = slot.state === 'stopping' || this.closing;
    slot.state = 'dead';
    if (job) {
      job.reject(
        new RegattaError(
          'UNAVAILABLE',
          `inference worker exited (code ${code}) while running a batch of ${job.key}`,
        ),
      );
    }
    if (expected || !wasServing) return;
    this.restarts += 1;
    this.options.metrics?.workerRestarted();
    this.options.metrics?.workerCount(this.live());
    this.log.error({ worker: slot.index, code }, 'inference worker exited unexpectedly; replacing it');
    this.replace(slot.index, this.options.restartDelayMs ?? 500);
  }

  /** Starts a replacement; if it fails to start, tries again with a doubled delay. */
  private replace(index: number, delayMs: number): void {
    if (this.closing) return;
    this.spawn(index).then(
      () => this.options.metrics?.workerCount(this.live()),
      (err: Error) => {
        if (this.closing) return;
        this.log.error(
          { worker: index, err: err.message, retryInMs: delayMs },
          'replacement inference worker failed',
        );
        setTimeout(() => this.replace(index, Math.min(delayMs * 2, 30_000)), delayMs).unref();
      },
    );
  }

  private async stopSlot(slot: Slot): Promise<void> {
    if (slot.state === 'dead') return;
    slot.state = 'stopping';
    const exited = new Promise<void>((resolve) => slot.worker.once('exit', () => resolve()));
    const stop: ToWorker = { type: 'stop' };
    slot.worker.postMessage(stop);
    const timer = setTimeout(() => void slot.worker.terminate(), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** Wakes batchers, starting from a rotating one so no model starves the others of workers. */
  private emitIdle(): void {
    const n = this.listeners.length;
    if (n === 0) return;
    const first = this.rotation++ % n;
    const listeners = this.listeners.slice();
    for (let k = 0; k < n && this.idle.length > 0; k++) {
      try {
        listeners[(first + k) % n]!();
      } catch (err) {
        this.log.error({ err }, 'batcher failed to take work');
      }
    }
  }
}
