import { z } from 'zod';

/** Tensor element types in the names Triton and the KServe v2 protocol use. */
export const Datatype = z.enum(['FP32', 'FP64', 'INT32', 'INT64', 'BOOL']);
export type Datatype = z.infer<typeof Datatype>;

/** One input or output tensor as `model.json` declares it; -1 marks a dynamic dimension. */
export const TensorSpec = z.object({
  name: z.string().min(1),
  /** Column names of a `[batch, n]` input, in order. */
  features: z.array(z.string().min(1)).optional(),
  shape: z.array(z.number().int().min(-1)).min(1),
  datatype: Datatype,
});
export type TensorSpec = z.infer<typeof TensorSpec>;

/** The metadata file beside each `model.onnx`; fields beyond these (training details...) are kept as-is. */
export const ModelJson = z.looseObject({
  name: z.string().min(1),
  version: z.number().int().positive(),
  description: z.string().optional(),
  inputs: z.array(TensorSpec).min(1),
  outputs: z.array(TensorSpec).min(1),
  /** Named score cut-offs, e.g. `{ review: 0.08, decline: 0.69 }`. */
  thresholds: z.record(z.string(), z.number()).optional(),
});
export type ModelJson = z.infer<typeof ModelJson>;

/** What callers (and `inference.models.v1`) see of one served model version. */
export interface ModelInfo {
  name: string;
  version: number;
  /** Whether requests that name no version are served by this one. */
  isDefault: boolean;
  /** Every loaded version of this model, ascending. */
  versions: number[];
  description?: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Columns of one request row: the inputs' trailing sizes added up. */
  featureCount: number;
  /** Column names of one row when the metadata names them. */
  features?: string[];
  /** Largest number of rows one request may carry. */
  maxBatchRows: number;
  thresholds?: Record<string, number>;
  /** Quality measured at training (`model.json` `training.metrics`), e.g. `holdout_auc`. */
  metrics?: Record<string, unknown>;
  /** Where inputs/outputs came from: the model's `model.json` or the ONNX graph alone. */
  metadataSource: 'model.json' | 'graph';
}
