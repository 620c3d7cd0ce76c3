import { z } from 'zod';
import { contract } from './contract.js';

/** Largest number of rows one predict request may carry (a model's own limit may be lower). */
export const MAX_PREDICT_ROWS = 1024;
/** Largest number of values in one request tensor. */
export const MAX_TENSOR_VALUES = 1_048_576;

export const ModelName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,127}$/i, 'model names are letters, digits, _ . -');
export const ModelVersion = z.string().regex(/^[1-9][0-9]{0,8}$/, 'versions are positive integers');

/** A version pin: a positive integer, as a number or as a string (the KServe v2 protocol sends strings). */
export const VersionPin = z.union([z.number().int().min(1).max(999_999_999), ModelVersion], {
  error: 'version must be a positive integer (e.g. 1 or "1")',
});
export type VersionPin = z.infer<typeof VersionPin>;

interface UnionIssue {
  input?: unknown;
  errors?: { path: PropertyKey[]; message: string }[][];
}

// A failed union otherwise says only "Invalid input"; this names the value or feature that was wrong.
function rowProblem(issue: UnionIssue): string {
  const input = issue.input;
  const isArray = Array.isArray(input);
  const branch = isArray
    ? issue.errors?.[0]
    : input !== null && typeof input === 'object'
      ? issue.errors?.[1]
      : undefined;
  const first = branch?.[0];
  if (!first) {
    const got = input === null ? 'null' : isArray ? 'an array' : typeof input;
    return `a row is an array of numbers or an object of feature name -> number, got ${got}`;
  }
  const key = first.path[0];
  if (key === undefined) return first.message;
  return `${isArray ? `value ${String(key)}` : `feature "${String(key)}"`}: ${first.message}`;
}

/** One row: values in the model's feature order, or named features (any order). */
export const PredictRow = z.union([z.array(z.number()), z.record(z.string(), z.number())], {
  error: rowProblem,
});
export type PredictRow = z.infer<typeof PredictRow>;

/** Tensor element types of the KServe v2 protocol that can feed a float model. */
export const NumericDatatype = z.enum([
  'FP16',
  'FP32',
  'FP64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
]);
export type NumericDatatype = z.infer<typeof NumericDatatype>;

/**
 * One named input tensor (the KServe v2 shape, with `data` already flattened row-major). The
 * leading dimension is the batch; the service checks names, shapes and types against the model.
 */
export const InputTensor = z
  .object({
    name: z.string().min(1),
    shape: z.array(z.number().int().nonnegative()).min(1).max(8),
    datatype: NumericDatatype,
    data: z.array(z.number()).max(MAX_TENSOR_VALUES),
  })
  .strict();
export type InputTensor = z.infer<typeof InputTensor>;

/** The fields of a predict request other than the model and its input. */
export const PredictOptions = z.object({
  /** Pin a version; the model's default (newest) version otherwise. */
  version: VersionPin.optional(),
  /** Return only these outputs (all of them otherwise). */
  outputs: z.array(z.string().min(1)).min(1).max(64).optional(),
  /** Use the prediction cache (default true). */
  cache: z.boolean().default(true),
});

export const PredictRequest = z
  .object({
    model: ModelName,
    ...PredictOptions.shape,
    /** Rows: numbers in the model's feature order, or objects of named features. */
    rows: z.array(PredictRow).min(1).max(MAX_PREDICT_ROWS).optional(),
    /** Or named input tensors, batch first (what the KServe v2 routes send). */
    inputs: z.array(InputTensor).min(1).max(64).optional(),
  })
  .strict()
  .refine((r) => (r.rows === undefined) !== (r.inputs === undefined), {
    message: 'send exactly one of rows or inputs',
  });
export type PredictRequest = z.input<typeof PredictRequest>;

/** One output tensor of a reply: its datatype and its whole shape for this request, batch first. */
export const OutputTensorInfo = z.object({
  name: z.string(),
  datatype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
});
export type OutputTensorInfo = z.infer<typeof OutputTensorInfo>;

export const PredictReply = z.object({
  model: z.string(),
  version: z.string(),
  /** Output name -> one array of values per row. */
  outputs: z.record(z.string(), z.array(z.array(z.number()))),
  /**
   * Datatype and shape of each returned output, in the model's output order. Optional like every
   * field added to a v1 reply, so replies of older replicas still validate during a rollout.
   */
  output_tensors: z.array(OutputTensorInfo).optional(),
  /** Rows answered from the prediction cache. */
  cache_hits: z.number().int().nonnegative(),
});
export type PredictReply = z.infer<typeof PredictReply>;

export const TensorInfo = z.object({
  name: z.string(),
  datatype: z.string(),
  /** -1 marks a dynamic dimension (the leading batch dimension always is). */
  shape: z.array(z.number().int()),
  /** For a row input: the feature names in column order. */
  features: z.array(z.string()).optional(),
});
export type TensorInfo = z.infer<typeof TensorInfo>;

export const ModelVersionInfo = z.object({
  version: z.string(),
  ready: z.boolean(),
  inputs: z.array(TensorInfo),
  outputs: z.array(TensorInfo),
  // The fields below were added to the v1 reply, so they are optional: older replicas omit them.
  /** The onnxruntime platform name KServe and Triton clients expect (`onnxruntime_onnx`). */
  platform: z.string().optional(),
  description: z.string().optional(),
  /** Values in one row: the inputs' non-batch sizes added up. */
  feature_count: z.number().int().positive().optional(),
  /** Largest number of rows one request may carry. */
  max_batch_rows: z.number().int().positive().optional(),
  /** Quality measured at training (e.g. holdout AUC), when the model's metadata records it. */
  metrics: z.record(z.string(), z.unknown()).optional(),
  thresholds: z.record(z.string(), z.number()).optional(),
});
export type ModelVersionInfo = z.infer<typeof ModelVersionInfo>;

export const ModelInfo = z.object({
  name: z.string(),
  /** Served when a request pins no version. */
  default_version: z.string(),
  /** Every loaded version, ascending. */
  versions: z.array(ModelVersionInfo),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

export const ModelsRequest = z
  .object({
    model: ModelName.optional(),
    /** With `model`: only this version (NOT_FOUND when it is not loaded). */
    version: VersionPin.optional(),
  })
  .strict()
  .refine((r) => r.version === undefined || r.model !== undefined, {
    message: 'version needs a model',
  });
export type ModelsRequest = z.input<typeof ModelsRequest>;
export const ModelsReply = z.object({ models: z.array(ModelInfo) });
export type ModelsReply = z.infer<typeof ModelsReply>;

export const INFERENCE = {
  /** Score rows or tensors with a model (batched, cached per row). */
  predict: contract({ subject: 'inference.predict.v1', request: PredictRequest, reply: PredictReply }),
  /** The loaded models and their metadata; one model (or version) when asked (NOT_FOUND otherwise). */
  models: contract({ subject: 'inference.models.v1', request: ModelsRequest, reply: ModelsReply }),
} as const;
