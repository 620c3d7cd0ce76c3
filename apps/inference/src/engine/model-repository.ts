import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

import { describeIssues, RegattaError } from '@regatta/contracts';
import ort from 'onnxruntime-node';

import { ModelJson, type Datatype, type TensorSpec } from './model-metadata.js';
import { readGraphSignature, type GraphTensor } from './onnx-signature.js';

/**
 * Official onnxruntime builds for Linux and macOS (1.29 and later) send usage telemetry to Microsoft over
 * HTTPS, keep a device id under ~/.cache/Microsoft/DeveloperTools and write /tmp/mat-debug-<pid>.log,
 * unless ORT_DISABLE_TELEMETRY=1 is in the environment when the first session is made. Regatta serves
 * models without calling out: the variable is set here, at import, before any session (the workers share
 * the process environment), unless the operator set it either way.
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';

/** Whether onnxruntime's own telemetry is off in this process, for the start-up log. */
export function onnxruntimeTelemetry(): 'off' | 'on' {
  return process.env.ORT_DISABLE_TELEMETRY === '1' ? 'off' : 'on';
}

/** One input tensor as served: its slice of each request row. */
export interface ServedInput {
  spec: TensorSpec;
  /** Columns of the row this input takes (its trailing dimension; 1 for a `[batch]` input). */
  cols: number;
  /** 1 for `[batch]`, 2 for `[batch, cols]`. */
  rank: 1 | 2;
}

/** A validated model version, ready to be opened by the workers. */
export interface LoadedModel {
  name: string;
  version: number;
  /** `name:version`, the key workers and batchers use. */
  key: string;
  /** Absolute path of `model.onnx`. */
  path: string;
  inputs: ServedInput[];
  outputs: TensorSpec[];
  /** Columns of one request row. */
  featureCount: number;
  /** Column names of one row, when the metadata names every input's columns. */
  features: string[] | undefined;
  description: string | undefined;
  thresholds: Record<string, number> | undefined;
  metadataSource: 'model.json' | 'graph';
  /** The parsed `model.json`, including fields Regatta does not interpret. */
  metadata: ModelJson | undefined;
}

/** Options for {@link ModelRepository.load}. */
export interface RepositoryOptions {
  /** Version served when a request names none, per model; the newest version otherwise. */
  defaultVersions?: Record<string, number>;
}

/** Thrown at load when any model is unusable; lists every problem so one boot shows them all. */
export class ModelRepositoryError extends Error {
  override readonly name = 'ModelRepositoryError';

  constructor(
    readonly directory: string,
    readonly problems: string[],
  ) {
    super(`model repository ${directory} is invalid:\n  - ${problems.join('\n  - ')}`);
  }
}

const SERVABLE_OUTPUTS: ReadonlySet<string> = new Set<Datatype>(['FP32', 'FP64', 'INT32', 'INT64', 'BOOL']);
const ORT_DATATYPES: Record<string, string> = {
  float32: 'FP32',
  float64: 'FP64',
  int32: 'INT32',
  int64: 'INT64',
  bool: 'BOOL',
};

/**
 * The models on disk, laid out like Triton's repository: `<dir>/<model>/<version>/model.onnx` plus an
 * optional `model.json`. Every version is validated against its ONNX graph before anything is served.
 */
export class ModelRepository {
  private constructor(
    readonly directory: string,
    private readonly byName: Map<string, Map<number, LoadedModel>>,
    private readonly defaults: Map<string, number>,
  ) {}

  /** Loads and validates every model version under `dir`; throws {@link ModelRepositoryError} listing all problems. */
  static async load(dir: string, options: RepositoryOptions = {}): Promise<ModelRepository> {
    const directory = path.resolve(dir);
    const problems: string[] = [];
    const byName = new Map<string, Map<number, LoadedModel>>();

    let entries: string[];
    try {
      entries = (await readdir(directory)).sort();
    } catch (err) {
      throw new ModelRepositoryError(directory, [`cannot read the directory: ${(err as Error).message}`]);
    }
    for (const name of entries) {
      const modelDir = path.join(directory, name);
      if (!(await isDirectory(modelDir)) || name.startsWith('.')) continue;
      const versions = (await readdir(modelDir)).filter((v) => /^[0-9]+$/.test(v) && Number(v) > 0);
      const loaded = new Map<number, LoadedModel>();
      for (const v of versions.sort((a, b) => Number(a) - Number(b))) {
        const versionDir = path.join(modelDir, v);
        if (!(await isDirectory(versionDir))) continue;
        const result = await loadVersion(name, Number(v), versionDir);
        if (typeof result === 'string') problems.push(`${name}/${v}: ${result}`);
        else loaded.set(result.version, result);
      }
      if (versions.length === 0)
        problems.push(`${name}: no version directories (expected ${name}/<n>/model.onnx)`);
      if (loaded.size > 0) byName.set(name, loaded);
    }

    const defaults = new Map<string, number>();
    for (const [name, versions] of byName) defaults.set(name, Math.max(...versions.keys()));
    for (const [name, version] of Object.entries(options.defaultVersions ?? {})) {
      if (!byName.get(name)?.has(version)) {
        problems.push(`${name}: pinned default version ${version} is not in the repository`);
      } else {
        defaults.set(name, version);
      }
    }
    if (problems.length === 0 && byName.size === 0)
      problems.push('no models found (expected <model>/<n>/model.onnx)');
    if (problems.length > 0) throw new ModelRepositoryError(directory, problems);
    return new ModelRepository(directory, byName, defaults);
  }

  /** The named model version (the default one when `version` is omitted); NOT_FOUND naming what is missing. */
  get(name: string, version?: number): LoadedModel {
    const versions = this.byName.get(name);
    if (!versions) {
      throw new RegattaError(
        'NOT_FOUND',
        `model '${name}' is not served (served: ${this.names().join(', ')})`,
        {
          model: name,
        },
      );
    }
    const wanted = version ?? this.defaults.get(name)!;
    const model = versions.get(wanted);
    if (!model) {
      throw new RegattaError(
        'NOT_FOUND',
        `model '${name}' has no version ${wanted} (served versions: ${[...versions.keys()].join(', ')})`,
        { model: name, version: wanted },
      );
    }
    return model;
  }

  /** Every loaded model version, by name then version. */
  all(): LoadedModel[] {
    return this.names().flatMap((name) => [...this.byName.get(name)!.values()]);
  }

  /** Served model names, sorted. */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  /** True when a model of this name is loaded (any version). */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Loaded versions of one model, ascending. */
  versions(name: string): number[] {
    return [...(this.byName.get(name)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /** The version served when a request names none. */
  defaultVersion(name: string): number | undefined {
    return this.defaults.get(name);
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

interface GraphIo {
  inputs: GraphTensor[];
  outputs: GraphTensor[];
}

/** Validates one version directory; returns the problem as a string when it cannot be served. */
async function loadVersion(name: string, version: number, dir: string): Promise<LoadedModel | string> {
  const onnxPath = path.join(dir, 'model.onnx');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(onnxPath);
  } catch {
    return 'model.onnx is missing';
  }
  let graph: GraphIo;
  try {
    graph = await inspectGraph(bytes);
  } catch (err) {
    return `model.onnx cannot be loaded: ${firstLine((err as Error).message)}`;
  }

  let metadata: ModelJson | undefined;
  try {
    const text = await readFile(path.join(dir, 'model.json'), 'utf8');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      return `model.json is not valid JSON: ${(err as Error).message}`;
    }
    const parsed = ModelJson.safeParse(raw);
    if (!parsed.success) return `model.json is invalid: ${describeIssues(parsed.error)}`;
    metadata = parsed.data;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      return `model.json cannot be read: ${(err as Error).message}`;
  }

  const io = metadata ? checkMetadata(name, version, metadata, graph) : deriveFromGraph(graph);
  if (typeof io === 'string') return io;
  const featureCount = io.inputs.reduce((sum, i) => sum + i.cols, 0);
  const named = io.inputs.every((i) => i.spec.features !== undefined);
  return {
    name,
    version,
    key: `${name}:${version}`,
    path: onnxPath,
    inputs: io.inputs,
    outputs: io.outputs,
    featureCount,
    features: named ? io.inputs.flatMap((i) => i.spec.features ?? []) : undefined,
    description: metadata?.description,
    thresholds: metadata?.thresholds,
    metadataSource: metadata ? 'model.json' : 'graph',
    metadata,
  };
}

/**
 * Names come from an onnxruntime session (what will actually run); types and shapes from the protobuf,
 * falling back to the session's metadata for any value the protobuf does not describe.
 */
async function inspectGraph(bytes: Uint8Array): Promise<GraphIo> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    let signature: ReturnType<typeof readGraphSignature> | undefined;
    try {
      signature = readGraphSignature(bytes);
    } catch {
      signature = undefined;
    }
    const pick = (
      names: readonly string[],
      fromProto: GraphTensor[] | undefined,
      fromSession: readonly ort.InferenceSession.ValueMetadata[],
    ): GraphTensor[] =>
      names.map((n) => {
        const proto = fromProto?.find((t) => t.name === n);
        if (proto) return proto;
        const meta = fromSession.find((m) => m.name === n);
        if (!meta?.isTensor) return { name: n, datatype: 'NON_TENSOR', shape: undefined, isTensor: false };
        return {
          name: n,
          datatype: ORT_DATATYPES[meta.type] ?? meta.type.toUpperCase(),
          shape: meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1)),
          isTensor: true,
        };
      });
    return {
      inputs: pick(session.inputNames, signature?.inputs, session.inputMetadata),
      outputs: pick(session.outputNames, signature?.outputs, session.outputMetadata),
    };
  } finally {
    await session.release();
  }
}

/** An input Regatta can feed: float32, `[batch]` or `[batch, n]` with a dynamic batch and a fixed n. */
function servableInput(t: GraphTensor): { cols: number; rank: 1 | 2 } | string {
  if (!t.isTensor) return `input '${t.name}' is not a tensor`;
  if (t.datatype !== 'FP32')
    return `input '${t.name}' is ${t.datatype}; only FP32 (float32) inputs are served`;
  if (!t.shape) return `input '${t.name}' declares no shape; expected [batch, n]`;
  if (t.shape.length < 1 || t.shape.length > 2) {
    return `input '${t.name}' has shape ${fmt(t.shape)}; expected [batch] or [batch, n]`;
  }
  if (t.shape[0] !== -1) {
    return `input '${t.name}' has a fixed leading dimension ${t.shape[0]}; the batch dimension must be dynamic`;
  }
  if (t.shape.length === 1) return { cols: 1, rank: 1 };
  const cols = t.shape[1]!;
  if (cols < 1)
    return `input '${t.name}' has a dynamic feature dimension; expected [batch, n] with a fixed n`;
  return { cols, rank: 2 };
}

function servableOutput(t: GraphTensor): string | undefined {
  if (!t.isTensor) return `output '${t.name}' is not a tensor`;
  if (!SERVABLE_OUTPUTS.has(t.datatype)) return `output '${t.name}' is ${t.datatype}, which is not served`;
  if (t.shape && t.shape.length === 0)
    return `output '${t.name}' is a scalar; outputs need a batch dimension`;
  if (t.shape && t.shape[0] !== -1) {
    return `output '${t.name}' has a fixed leading dimension ${t.shape[0]}; the batch dimension must be dynamic`;
  }
  return undefined;
}

function specFromGraph(t: GraphTensor): TensorSpec {
  return { name: t.name, shape: t.shape ?? [-1], datatype: t.datatype as Datatype };
}

/** A user model without `model.json`: serve every float input and every numeric tensor output as declared. */
function deriveFromGraph(graph: GraphIo): { inputs: ServedInput[]; outputs: TensorSpec[] } | string {
  const inputs: ServedInput[] = [];
  for (const t of graph.inputs) {
    const ok = servableInput(t);
    if (typeof ok === 'string') return ok;
    inputs.push({ spec: specFromGraph(t), ...ok });
  }
  // Non-numeric outputs (e.g. a classifier's ZipMap) are skipped rather than refusing the model.
  const outputs = graph.outputs.filter((t) => servableOutput(t) === undefined).map(specFromGraph);
  if (inputs.length === 0) return 'the ONNX graph has no inputs';
  if (outputs.length === 0)
    return 'the ONNX graph has no numeric tensor output with a dynamic batch dimension';
  return { inputs, outputs };
}

/** `model.json` must describe the graph exactly: same inputs in the same order, declared outputs present. */
function checkMetadata(
  name: string,
  version: number,
  meta: ModelJson,
  graph: GraphIo,
): { inputs: ServedInput[]; outputs: TensorSpec[] } | string {
  if (meta.name !== name)
    return `model.json names the model '${meta.name}' but it sits in directory '${name}'`;
  if (meta.version !== version)
    return `model.json says version ${meta.version} but it sits in directory ${version}`;
  const graphInputs = graph.inputs.map((t) => t.name);
  const declaredInputs = meta.inputs.map((t) => t.name);
  if (graphInputs.join('\u0000') !== declaredInputs.join('\u0000')) {
    return `model.json declares inputs ${list(declaredInputs)} but the ONNX graph's inputs are ${list(graphInputs)}`;
  }
  const inputs: ServedInput[] = [];
  for (const [i, spec] of meta.inputs.entries()) {
    const t = graph.inputs[i]!;
    const ok = servableInput(t);
    if (typeof ok === 'string') return ok;
    const mismatch = compare('input', spec, t);
    if (mismatch) return mismatch;
    if (spec.features && spec.features.length !== ok.cols) {
      return `model.json input '${spec.name}' names ${spec.features.length} features but its shape has ${ok.cols} columns`;
    }
    inputs.push({ spec, ...ok });
  }
  const outputs: TensorSpec[] = [];
  for (const spec of meta.outputs) {
    const t = graph.outputs.find((o) => o.name === spec.name);
    if (!t) {
      return `model.json declares output '${spec.name}' but the ONNX graph's outputs are ${list(graph.outputs.map((o) => o.name))}`;
    }
    const bad = servableOutput(t) ?? compare('output', spec, t);
    if (bad) return bad;
    outputs.push(spec);
  }
  return { inputs, outputs };
}

function compare(kind: 'input' | 'output', spec: TensorSpec, t: GraphTensor): string | undefined {
  if (spec.datatype !== t.datatype) {
    return `model.json ${kind} '${spec.name}' is ${spec.datatype} but the ONNX graph has ${t.datatype}`;
  }
  if (!t.shape) return undefined;
  const same = spec.shape.length === t.shape.length && spec.shape.every((d, i) => d === t.shape![i]);
  if (!same) {
    return `model.json ${kind} '${spec.name}' has shape ${fmt(spec.shape)} but the ONNX graph has ${fmt(t.shape)}`;
  }
  return undefined;
}

function fmt(shape: number[]): string {
  return `[${shape.join(', ')}]`;
}

function list(names: string[]): string {
  return `[${names.map((n) => `'${n}'`).join(', ')}]`;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
