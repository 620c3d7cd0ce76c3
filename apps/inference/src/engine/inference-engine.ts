import { RegattaError } from '@regatta/contracts';
import { createLogger, type Logger } from '@regatta/telemetry';

import { InferenceMetrics } from './inference-metrics.js';
import { MicroBatcher, type BatcherStats } from './micro-batcher.js';
import type { ModelInfo, ModelJson } from './model-metadata.js';
import { type LoadedModel, ModelRepository, onnxruntimeTelemetry } from './model-repository.js';
import { defaultWorkerCount, resolveBatcherOptions, type BatcherOptions } from './options.js';
import { packRows, type Rows } from './rows.js';
import { WorkerPool, type WorkerPoolStats } from './worker-pool.js';
import type { WorkerModelTiming } from './worker-protocol.js';

/** Options of {@link InferenceEngine.start}. */
export interface EngineOptions {
  /** Directory laid out as `<model>/<version>/model.onnx` (+ optional `model.json`). */
  modelRepository: string;
  /** Worker threads; default one per core minus one for the main thread (at least 1). */
  workers?: number;
  /** Batcher knobs for every model; unspecified ones come from DEFAULT_BATCHER_OPTIONS. */
  batcher?: Partial<BatcherOptions>;
  /** Per-model-name overrides on top of `batcher`. */
  modelBatchers?: Record<string, Partial<BatcherOptions>>;
  /** Version served when a request names none, per model; the newest otherwise. */
  defaultVersions?: Record<string, number>;
  /** onnxruntime session options; default DEFAULT_SESSION_OPTIONS. */
  sessionOptions?: Record<string, unknown>;
  /** Worker entry file; tests substitute a wrapper. */
  workerScript?: URL;
  /** Longest a worker may take to load and warm up every model (default 60 s). */
  startTimeoutMs?: number;
  /** Longest close() waits for queued and running requests before failing them (default 10 s). */
  closeTimeoutMs?: number;
  logger?: Logger;
}

/** One prediction call. */
export interface PredictRequest {
  model: string;
  /** Pinned version; the model's default version when omitted. */
  version?: number;
  /** One row per item: a flat row-major Float32Array or one array of numbers per row. */
  rows: Rows;
  /** Absolute deadline, epoch milliseconds. */
  deadlineMs?: number;
  /** Abort to stop waiting (a queued request is removed, a running one's result discarded). */
  signal?: AbortSignal;
}

/** The outputs of one prediction: output name → one array of values per request row. */
export interface PredictResult {
  model: string;
  version: number;
  outputs: Record<string, number[][]>;
}

/** What start() measured. */
export interface StartReport {
  /** From start() to every model loaded and warmed up in every worker. */
  coldStartMs: number;
  workers: number;
  /** Load and warm-up time per model version (first worker). */
  models: WorkerModelTiming[];
}

/** Engine state for health and debugging endpoints. */
export interface EngineStats {
  ready: boolean;
  workers: WorkerPoolStats | undefined;
  models: BatcherStats[];
}

interface Served {
  batcher: MicroBatcher;
  /** Counts a successful call and its duration in seconds. */
  succeeded: (seconds: number) => void;
  cols: number;
  features: string[] | undefined;
  maxRows: number;
}

/**
 * The inference service's core: a validated model repository, a pool of worker threads running
 * onnxruntime, and one micro-batcher per model version in front of it.
 */
export class InferenceEngine {
  private repository: ModelRepository | undefined;
  private pool: WorkerPool | undefined;
  private readonly served = new Map<string, Served>();
  private state: 'new' | 'starting' | 'ready' | 'closing' | 'closed' = 'new';
  private closeTimeoutMs = 10_000;
  private log: Logger = createLogger('inference-engine');
  private readonly metrics = new InferenceMetrics();

  /** Loads and validates the repository, starts the workers, warms up every model in every worker. */
  async start(options: EngineOptions): Promise<StartReport> {
    if (this.state !== 'new') throw new Error(`inference engine cannot start: it is ${this.state}`);
    this.state = 'starting';
    const started = performance.now();
    if (options.logger) this.log = options.logger;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    try {
      const batcherOptions = new Map<string, BatcherOptions>();
      for (const [name, overrides] of Object.entries(options.modelBatchers ?? {})) {
        batcherOptions.set(name, resolveBatcherOptions({ ...options.batcher, ...overrides }));
      }
      const common = resolveBatcherOptions(options.batcher);
      const repository = await ModelRepository.load(options.modelRepository, {
        defaultVersions: options.defaultVersions,
      });
      const size = options.workers ?? defaultWorkerCount();
      const pool = await WorkerPool.start({
        size,
        models: repository.all().map((m) => ({
          key: m.key,
          path: m.path,
          inputs: m.inputs.map((i) => ({ name: i.spec.name, cols: i.cols, rank: i.rank })),
          outputs: m.outputs.map((o) => o.name),
        })),
        sessionOptions: options.sessionOptions,
        workerScript: options.workerScript,
        startTimeoutMs: options.startTimeoutMs,
        logger: this.log,
        metrics: this.metrics,
      });
      for (const model of repository.all()) {
        const settings = batcherOptions.get(model.name) ?? common;
        const batcher = new MicroBatcher(
          model.key,
          model.featureCount,
          pool,
          settings,
          this.metrics.forModel(model.name, String(model.version)),
        );
        this.served.set(model.key, {
          batcher,
          succeeded: this.metrics.successRecorder(model.name, String(model.version)),
          cols: model.featureCount,
          features: model.features,
          maxRows: settings.maxBatchRows,
        });
      }
      this.repository = repository;
      this.pool = pool;
      this.state = 'ready';
      const report: StartReport = {
        coldStartMs: performance.now() - started,
        workers: size,
        models: pool.stats().models,
      };
      this.metrics.coldStartSeconds(report.coldStartMs / 1000);
      this.log.info(
        {
          coldStartMs: Math.round(report.coldStartMs),
          workers: size,
          models: repository.all().map((m) => m.key),
          onnxruntimeTelemetry: onnxruntimeTelemetry(),
        },
        'inference engine ready',
      );
      return report;
    } catch (err) {
      this.state = 'closed';
      throw err;
    }
  }

  /** True once every model is loaded and warmed up in every worker, until close() begins. */
  get ready(): boolean {
    return this.state === 'ready';
  }

  /**
   * Runs `rows` through a model. Errors are RegattaErrors: NOT_FOUND for an unknown model or version,
   * INVALID_ARGUMENT for malformed rows (naming row and column) or too many rows, OVERLOADED when the
   * queue is full, DEADLINE_EXCEEDED when the deadline passes or cannot be met, UNAVAILABLE when not
   * ready or a worker died mid-batch.
   */
  async predict(request: PredictRequest): Promise<PredictResult> {
    const started = performance.now();
    let model: LoadedModel | undefined;
    try {
      if (!this.repository || this.state !== 'ready') {
        throw new RegattaError('UNAVAILABLE', `inference engine is not ready (${this.state})`);
      }
      if (request.version !== undefined && (!Number.isInteger(request.version) || request.version < 1)) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `version must be a positive integer, got ${String(request.version)}`,
        );
      }
      model = this.repository.get(request.model, request.version);
      const served = this.served.get(model.key)!;
      const packed = packRows(request.rows, {
        model: model.key,
        cols: served.cols,
        features: served.features,
        maxRows: served.maxRows,
      });
      const outputs = await served.batcher.submit(packed.data, packed.rows, {
        deadlineMs: request.deadlineMs,
        signal: request.signal,
      });
      served.succeeded((performance.now() - started) / 1000);
      return { model: model.name, version: model.version, outputs };
    } catch (err) {
      const failure = RegattaError.from(err);
      if (failure !== err) this.log.error({ err }, 'unexpected error in predict');
      // Per-model labels only for served names: arbitrary names from callers must not grow the label set.
      const name = model?.name ?? (this.repository?.has(request.model) ? request.model : '_unknown');
      const version = model ? String(model.version) : '_';
      this.metrics.request(name, version, failure.code.toLowerCase(), (performance.now() - started) / 1000);
      throw failure;
    }
  }

  /** Every served model version with its inputs, outputs and limits (for `inference.models.v1`). */
  models(): ModelInfo[] {
    const repository = this.repository;
    if (!repository) return [];
    return repository.all().map((m) => {
      const info: ModelInfo = {
        name: m.name,
        version: m.version,
        isDefault: repository.defaultVersion(m.name) === m.version,
        versions: repository.versions(m.name),
        inputs: m.inputs.map((i) => i.spec),
        outputs: m.outputs,
        featureCount: m.featureCount,
        maxBatchRows: this.served.get(m.key)?.maxRows ?? 0,
        metadataSource: m.metadataSource,
      };
      if (m.description !== undefined) info.description = m.description;
      if (m.features !== undefined) info.features = m.features;
      if (m.thresholds !== undefined) info.thresholds = m.thresholds;
      const metrics = trainingMetrics(m.metadata);
      if (metrics) info.metrics = metrics;
      return info;
    });
  }

  /** Queue, batch and worker state. */
  stats(): EngineStats {
    return {
      ready: this.ready,
      workers: this.pool?.stats(),
      models: [...this.served.values()].map((s) => s.batcher.stats()),
    };
  }

  /**
   * Stops taking requests, lets queued and running ones finish (failing whatever is left after
   * `closeTimeoutMs` with UNAVAILABLE), then stops the workers.
   */
  async close(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    const batchers = [...this.served.values()].map((s) => s.batcher);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.closeTimeoutMs);
    });
    const outcome = await Promise.race([Promise.all(batchers.map((b) => b.drain())), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.log.warn(
        { timeoutMs: this.closeTimeoutMs },
        'inference requests still pending at shutdown; failing them',
      );
      for (const b of batchers) b.abort();
    }
    for (const b of batchers) b.dispose();
    await this.pool?.close();
    this.state = 'closed';
    this.log.info('inference engine closed');
  }
}

/** `training.metrics` of a model.json, when it is an object. */
function trainingMetrics(metadata: ModelJson | undefined): Record<string, unknown> | undefined {
  const training: unknown = metadata?.['training'];
  if (typeof training !== 'object' || training === null) return undefined;
  const metrics: unknown = (training as Record<string, unknown>)['metrics'];
  return typeof metrics === 'object' && metrics !== null && !Array.isArray(metrics)
    ? (metrics as Record<string, unknown>)
    : undefined;
}
