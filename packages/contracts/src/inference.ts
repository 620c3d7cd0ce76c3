import { z } from 'zod';
import { contract } from './contract.js';

/** Largest number of rows one predict request may carry. */
export const MAX_PREDICT_ROWS = 1024;

export const ModelName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,127}$/i, 'model names are letters, digits, _ . -');
export const ModelVersion = z.string().regex(/^[0-9]{1,9}$/, 'versions are positive integers');

/** One row: values in the model's feature order, or named features (any order). */
export const PredictRow = z.union([z.array(z.number()), z.record(z.string(), z.number())]);

export const PredictRequest = z
  .object({
    model: ModelName,
    /** Pin a version; the newest loaded version otherwise. */
    version: ModelVersion.optional(),
    rows: z.array(PredictRow).min(1).max(MAX_PREDICT_ROWS),
    /** Use the prediction cache (default true). */
    cache: z.boolean().default(true),
  })
  .strict();
export type PredictRequest = z.infer<typeof PredictRequest>;

export const PredictReply = z.object({
  model: z.string(),
  version: z.string(),
  /** Output name -> one array of values per row. */
  outputs: z.record(z.string(), z.array(z.array(z.number()))),
  /** Rows answered from the prediction cache. */
  cache_hits: z.number().int().nonnegative(),
});
export type PredictReply = z.infer<typeof PredictReply>;

export const TensorInfo = z.object({
  name: z.string(),
  datatype: z.string(),
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
  metrics: z.record(z.string(), z.unknown()).optional(),
  thresholds: z.record(z.string(), z.number()).optional(),
});
export type ModelVersionInfo = z.infer<typeof ModelVersionInfo>;

export const ModelInfo = z.object({
  name: z.string(),
  default_version: z.string(),
  versions: z.array(ModelVersionInfo),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

export const ModelsRequest = z.object({ model: ModelName.optional() }).strict();
export const ModelsReply = z.object({ models: z.array(ModelInfo) });
export type ModelsReply = z.infer<typeof ModelsReply>;

export const INFERENCE = {
  /** Score rows with a model (batched, cached). */
  predict: contract({ subject: 'inference.predict.v1', request: PredictRequest, reply: PredictReply }),
  /** The loaded models and their metadata; one model when `model` is given (NOT_FOUND otherwise). */
  models: contract({ subject: 'inference.models.v1', request: ModelsRequest, reply: ModelsReply }),
} as const;
