import { type ModelsReply, RegattaError, type TensorInfo, type VersionPin } from '@regatta/contracts';
import { type ModelInfo as EngineModel, type TensorSpec } from './engine/index.js';

/** The onnxruntime platform name Triton and KServe clients expect in model metadata. */
export const ONNX_PLATFORM = 'onnxruntime_onnx';

/** One served model version as the request path needs it. */
export interface CatalogModel extends EngineModel {
  /** `name:version`, for messages. */
  key: string;
}

/**
 * The served models by name and version, built once the engine has started (the repository does
 * not change while the service runs). Resolves a request's model and version pin or says exactly
 * what is not served.
 */
export class ModelCatalog {
  private readonly byName = new Map<
    string,
    { defaultVersion: number; versions: Map<number, CatalogModel> }
  >();

  constructor(models: readonly EngineModel[]) {
    for (const m of models) {
      const entry = this.byName.get(m.name) ?? { defaultVersion: 0, versions: new Map() };
      entry.versions.set(m.version, { ...m, key: `${m.name}:${m.version}` });
      if (m.isDefault) entry.defaultVersion = m.version;
      this.byName.set(m.name, entry);
    }
  }

  /** Model names, sorted. */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  /** The model version a request means (its default version when unpinned); NOT_FOUND naming what is served. */
  resolve(name: string, pin?: VersionPin): CatalogModel {
    const entry = this.byName.get(name);
    if (!entry) {
      throw new RegattaError(
        'NOT_FOUND',
        `model '${name}' is not served (served: ${this.names().join(', ') || 'none'})`,
        { model: name },
      );
    }
    const version = pin === undefined ? entry.defaultVersion : Number(pin);
    const model = entry.versions.get(version);
    if (!model) {
      throw new RegattaError(
        'NOT_FOUND',
        `model '${name}' has no version ${version} (served versions: ${[...entry.versions.keys()].join(', ')})`,
        { model: name, version },
      );
    }
    return model;
  }

  /** `inference.models.v1`: every model, one model, or one version of it. */
  describe(ready: boolean, name?: string, pin?: VersionPin): ModelsReply {
    if (name === undefined) return { models: this.names().map((n) => this.describeModel(n, ready)) };
    const model = this.resolve(name, pin);
    const described = this.describeModel(name, ready);
    if (pin !== undefined)
      described.versions = described.versions.filter((v) => v.version === String(model.version));
    return { models: [described] };
  }

  private describeModel(name: string, ready: boolean): ModelsReply['models'][number] {
    const entry = this.byName.get(name)!;
    const versions = [...entry.versions.values()].sort((a, b) => a.version - b.version);
    return {
      name,
      default_version: String(entry.defaultVersion),
      versions: versions.map((m) => {
        const v: ModelsReply['models'][number]['versions'][number] = {
          version: String(m.version),
          ready,
          platform: ONNX_PLATFORM,
          inputs: m.inputs.map(tensorInfo),
          outputs: m.outputs.map(tensorInfo),
          feature_count: m.featureCount,
          max_batch_rows: m.maxBatchRows,
        };
        if (m.description !== undefined) v.description = m.description;
        const metrics = scalarMetrics(m.metrics);
        if (metrics) v.metrics = metrics;
        if (m.thresholds !== undefined) v.thresholds = m.thresholds;
        return v;
      }),
    };
  }
}

function tensorInfo(spec: TensorSpec): TensorInfo {
  const info: TensorInfo = { name: spec.name, datatype: spec.datatype, shape: [...spec.shape] };
  if (spec.features) info.features = [...spec.features];
  return info;
}

// Training metrics may hold tables (calibration deciles); callers want the headline numbers.
function scalarMetrics(metrics: Record<string, unknown> | undefined): Record<string, number> | undefined {
  if (!metrics) return undefined;
  const scalars = Object.entries(metrics).filter(
    (e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1]),
  );
  return scalars.length > 0 ? Object.fromEntries(scalars) : undefined;
}
