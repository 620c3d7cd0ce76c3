import { type FeatureCache } from '@regatta/cache';
import {
  type ModelsReply,
  type ParsedRequestOf,
  type PredictReply,
  RegattaError,
  type ErrorCode,
  type INFERENCE,
} from '@regatta/contracts';
import { type SloMonitor } from '@regatta/slo';
import { createLogger, type Logger } from '@regatta/telemetry';
import {
  type ModelInfo as EngineModel,
  type PredictRequest as EngineRequest,
  type PredictResult as EngineResult,
  packRows,
} from './engine/index.js';
import { type CatalogModel, ModelCatalog } from './model-catalog.js';
import { outputTensors, positionalRows, rowsFromTensors } from './request-rows.js';

/** A parsed `inference.predict.v1` request. */
export type PredictCall = ParsedRequestOf<typeof INFERENCE.predict>;
/** A parsed `inference.models.v1` request. */
export type ModelsCall = ParsedRequestOf<typeof INFERENCE.models>;

/** What the prediction path needs of the engine (an InferenceEngine; tests pass a fake). */
export interface PredictionEngine {
  readonly ready: boolean;
  predict(request: EngineRequest): Promise<EngineResult>;
  models(): EngineModel[];
}

/** Options of a {@link PredictionService}. */
export interface PredictionServiceOptions {
  /** The prediction cache; undefined disables caching for every request. */
  cache: FeatureCache | undefined;
  /** Cap on a prediction's queue + run time below the caller's deadline; 0 = the caller's deadline only. */
  timeoutMs: number;
  /** Where request latency and cache lookups are recorded for the SLOs. */
  slo?: Pick<SloMonitor, 'recordInference' | 'recordCache'>;
  logger?: Logger;
}

/** One row's outputs: output name -> values. This is what the cache stores per row. */
type RowPrediction = Record<string, number[]>;

// Failures of the service rather than of the request: these count against the inference SLO.
const SERVER_FAULTS: ReadonlySet<ErrorCode> = new Set([
  'INTERNAL',
  'UNAVAILABLE',
  'OVERLOADED',
  'DEADLINE_EXCEEDED',
]);

/**
 * The logic behind `inference.predict.v1` and `inference.models.v1`: resolves the model and version,
 * turns named-feature rows or input tensors into rows in the model's column order, validates them,
 * answers cached rows from the prediction cache and sends only the others through the engine's
 * micro-batcher, under the caller's deadline.
 */
export class PredictionService {
  private readonly catalog: ModelCatalog;
  private readonly log: Logger;

  constructor(
    private readonly engine: PredictionEngine,
    private readonly options: PredictionServiceOptions,
  ) {
    this.catalog = new ModelCatalog(engine.models());
    this.log = options.logger ?? createLogger('inference');
  }

  /** Scores the request's rows before `deadlineMs` (epoch ms); errors are RegattaErrors naming what was wrong. */
  async predict(request: PredictCall, deadlineMs: number, signal?: AbortSignal): Promise<PredictReply> {
    const started = performance.now();
    try {
      const reply = await this.run(request, deadlineMs, signal);
      this.options.slo?.recordInference(performance.now() - started, true);
      return reply;
    } catch (err) {
      const failure = RegattaError.from(err);
      if (failure !== err) this.log.error({ err }, 'unexpected error in predict');
      // A malformed request is the caller's fault and says nothing about the service's latency.
      if (SERVER_FAULTS.has(failure.code))
        this.options.slo?.recordInference(performance.now() - started, false);
      throw failure;
    }
  }

  /** The served models (all, one, or one version). */
  models(request: ModelsCall): ModelsReply {
    return this.catalog.describe(this.engine.ready, request.model, request.version);
  }

  private async run(request: PredictCall, deadlineMs: number, signal?: AbortSignal): Promise<PredictReply> {
    const model = this.catalog.resolve(request.model, request.version);
    const wanted = this.selectOutputs(model, request.outputs);
    const rows = request.inputs
      ? rowsFromTensors(request.inputs, model)
      : positionalRows(request.rows ?? [], model);
    // Validates count, row length and every value (finite, float32 range) before any cache lookup or run.
    const packed = packRows(rows, {
      model: model.key,
      cols: model.featureCount,
      features: model.features,
      maxRows: model.maxBatchRows,
    });
    const deadline =
      this.options.timeoutMs > 0 ? Math.min(deadlineMs, Date.now() + this.options.timeoutMs) : deadlineMs;
    // One object shape for every engine call; the cache path swaps in the rows it missed.
    const call: EngineRequest = {
      model: model.name,
      version: model.version,
      rows: packed.data,
      deadlineMs: deadline,
      signal,
    };

    let outputs: Record<string, number[][]>;
    let cacheHits = 0;
    const cache = request.cache ? this.options.cache : undefined;
    if (!cache) {
      outputs = (await this.engine.predict(call)).outputs;
    } else {
      const { predictions, hits } = await cache.cachedPredict<number[], RowPrediction>(
        { name: model.name, version: String(model.version) },
        rows,
        async (missRows) =>
          perRow((await this.engine.predict({ ...call, rows: missRows })).outputs, missRows.length),
      );
      for (const hit of hits) {
        this.options.slo?.recordCache(hit);
        if (hit) cacheHits++;
      }
      outputs = byOutput(model, predictions);
    }

    const selected: Record<string, number[][]> = {};
    for (const name of wanted) {
      const values = outputs[name];
      if (!values) throw new RegattaError('INTERNAL', `model ${model.key} returned no output '${name}'`);
      selected[name] = values;
    }
    return {
      model: model.name,
      version: String(model.version),
      outputs: selected,
      output_tensors: outputTensors(model, selected, packed.rows),
      cache_hits: cacheHits,
    };
  }

  private selectOutputs(model: CatalogModel, requested: readonly string[] | undefined): string[] {
    const names = model.outputs.map((o) => o.name);
    if (!requested) return names;
    const unknown = requested.filter((n) => !names.includes(n));
    if (unknown.length > 0) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `model ${model.key} has no output ${unknown.map((n) => `'${n}'`).join(', ')} (outputs: ${names.join(', ')})`,
        { outputs: unknown },
      );
    }
    return [...new Set(requested)];
  }
}

/** The engine's outputs (name -> one array per row) as one prediction per row. */
function perRow(outputs: Record<string, number[][]>, rows: number): RowPrediction[] {
  const predictions: RowPrediction[] = Array.from({ length: rows }, () => ({}));
  for (const [name, values] of Object.entries(outputs)) {
    values.forEach((v, r) => (predictions[r]![name] = v));
  }
  return predictions;
}

/** Per-row predictions back to name -> one array per row, for every output of the model. */
function byOutput(model: CatalogModel, predictions: RowPrediction[]): Record<string, number[][]> {
  const outputs: Record<string, number[][]> = {};
  for (const { name } of model.outputs) {
    const values: number[][] = [];
    for (const p of predictions) {
      const v = p[name];
      // Only an entry written by a different model under the same name and version could lack an output.
      if (!Array.isArray(v)) {
        throw new RegattaError(
          'INTERNAL',
          `a cached prediction of model ${model.key} lacks output '${name}'`,
        );
      }
      values.push(v);
    }
    outputs[name] = values;
  }
  return outputs;
}
