import {
  type InputTensor,
  type NumericDatatype,
  type OutputTensorInfo,
  type PredictRow,
  RegattaError,
} from '@regatta/contracts';
import { type TensorSpec } from './engine/index.js';
import { type CatalogModel } from './model-catalog.js';

function invalid(message: string, details?: Record<string, unknown>): RegattaError {
  return new RegattaError('INVALID_ARGUMENT', message, details);
}

/**
 * Request rows in the model's column order. Positional rows pass through (their length is checked
 * when they are packed); named rows are reordered by the model's feature names, and a missing or
 * unknown feature is INVALID_ARGUMENT naming it.
 */
export function positionalRows(rows: readonly PredictRow[], model: CatalogModel): number[][] {
  return rows.map((row, r) => {
    if (Array.isArray(row)) return row;
    const named = row;
    const features = model.features;
    if (!features) {
      throw invalid(
        `row ${r} names its features, but model ${model.key} has no feature names; send each row as an array of ${model.featureCount} numbers`,
        { row: r },
      );
    }
    const missing = features.filter((f) => !Object.hasOwn(named, f));
    const known = new Set(features);
    const unknown = Object.keys(named).filter((k) => !known.has(k));
    if (missing.length > 0 || unknown.length > 0) {
      const parts = [
        missing.length > 0 && `is missing ${listOf(missing)}`,
        unknown.length > 0 && `has unknown ${listOf(unknown)}`,
      ].filter(Boolean);
      throw invalid(`row ${r} ${parts.join(' and ')}; model ${model.key} takes ${features.join(', ')}`, {
        row: r,
        ...(missing.length > 0 && { missing }),
        ...(unknown.length > 0 && { unknown }),
      });
    }
    return features.map((f) => named[f]!);
  });
}

function listOf(names: string[]): string {
  const shown = names.slice(0, 10).join(', ');
  const more = names.length > 10 ? ` and ${names.length - 10} more` : '';
  return `feature${names.length === 1 ? '' : 's'} ${shown}${more}`;
}

/** Columns a model input takes per row: its trailing size, 1 for a `[batch]` input. */
function colsOf(spec: TensorSpec): number {
  return spec.shape.length === 1 ? 1 : spec.shape.slice(1).reduce((a, b) => a * b, 1);
}

function showShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** The values each integer datatype holds, inclusive. */
const INTEGER_RANGES: ReadonlyMap<NumericDatatype, readonly [number, number]> = new Map([
  ['INT8', [-(2 ** 7), 2 ** 7 - 1]],
  ['INT16', [-(2 ** 15), 2 ** 15 - 1]],
  ['INT32', [-(2 ** 31), 2 ** 31 - 1]],
  ['INT64', [-(2 ** 63), 2 ** 63 - 1]],
  ['UINT8', [0, 2 ** 8 - 1]],
  ['UINT16', [0, 2 ** 16 - 1]],
  ['UINT32', [0, 2 ** 32 - 1]],
  ['UINT64', [0, 2 ** 64 - 1]],
]);

/**
 * Rows from named input tensors (the KServe v2 form): every model input must be given once, with
 * the model's non-batch shape and one batch size shared by all inputs. Row r is the concatenation
 * of each input's r-th slice, in the model's input order (what the engine feeds the graph).
 */
export function rowsFromTensors(inputs: readonly InputTensor[], model: CatalogModel): number[][] {
  const byName = new Map<string, InputTensor>();
  const known = new Set(model.inputs.map((i) => i.name));
  for (const input of inputs) {
    if (!known.has(input.name)) {
      throw invalid(`model ${model.key} has no input '${input.name}' (inputs: ${[...known].join(', ')})`, {
        input: input.name,
      });
    }
    if (byName.has(input.name)) throw invalid(`input '${input.name}' is given twice`, { input: input.name });
    byName.set(input.name, input);
  }
  let batch: number | undefined;
  const parts: { values: readonly number[]; cols: number }[] = [];
  for (const spec of model.inputs) {
    const input = byName.get(spec.name);
    if (!input)
      throw invalid(`input '${spec.name}' is missing; model ${model.key} needs it`, { input: spec.name });
    const cols = colsOf(spec);
    const shape = input.shape;
    const rankOk =
      spec.shape.length === 1
        ? shape.length === 1 || (shape.length === 2 && shape[1] === 1)
        : shape.length === spec.shape.length && shape.slice(1).every((d, i) => d === spec.shape[i + 1]);
    if (!rankOk) {
      throw invalid(
        `input '${spec.name}' has shape ${showShape(shape)}; model ${model.key} takes ${showShape(spec.shape)} (-1 = any batch size)`,
        { input: spec.name, shape, expected: spec.shape },
      );
    }
    const rows = shape[0]!;
    if (batch !== undefined && rows !== batch) {
      throw invalid(
        `input '${spec.name}' has batch size ${rows} but an earlier input has ${batch}; every input needs the same batch size`,
        { input: spec.name },
      );
    }
    batch = rows;
    const expected = shape.reduce((a, b) => a * b, 1);
    if (input.data.length !== expected) {
      throw invalid(
        `input '${spec.name}' has ${input.data.length} values; shape ${showShape(shape)} needs ${expected}`,
        { input: spec.name, values: input.data.length, expected },
      );
    }
    const range = INTEGER_RANGES.get(input.datatype);
    if (range) {
      const [min, max] = range;
      const bad = input.data.findIndex((v) => !Number.isInteger(v) || v < min || v > max);
      if (bad >= 0) {
        throw invalid(
          `input '${spec.name}' is ${input.datatype} (integers ${min} to ${max}) but value ${bad} is ${input.data[bad]}`,
          { input: spec.name, index: bad },
        );
      }
    }
    parts.push({ values: input.data, cols });
  }
  if (!batch) throw invalid('the inputs hold no rows (batch size 0); send at least one row');
  const rows: number[][] = [];
  for (let r = 0; r < batch; r++) {
    const row: number[] = [];
    for (const { values, cols } of parts) {
      for (let c = 0; c < cols; c++) row.push(values[r * cols + c]!);
    }
    rows.push(row);
  }
  return rows;
}

/**
 * The whole shape of an output for `batch` rows of `cols` values each: the model's declared
 * non-batch dimensions when they account for `cols` (one dynamic dimension is inferred), otherwise
 * `[batch, cols]`.
 */
export function outputShape(spec: TensorSpec, batch: number, cols: number): number[] {
  const dims = spec.shape.slice(1);
  if (dims.length === 0) return cols === 1 ? [batch] : [batch, cols];
  const dynamic = dims.filter((d) => d < 0).length;
  const known = dims.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
  if (dynamic === 0 && known === cols) return [batch, ...dims];
  if (dynamic === 1 && known > 0 && cols % known === 0)
    return [batch, ...dims.map((d) => (d < 0 ? cols / known : d))];
  return [batch, cols];
}

/** The reply's description of each returned output, in the model's output order. */
export function outputTensors(
  model: CatalogModel,
  outputs: Readonly<Record<string, number[][]>>,
  batch: number,
): OutputTensorInfo[] {
  return model.outputs
    .filter((spec) => outputs[spec.name] !== undefined)
    .map((spec) => ({
      name: spec.name,
      datatype: spec.datatype,
      shape: outputShape(spec, batch, outputs[spec.name]![0]?.length ?? 0),
    }));
}
