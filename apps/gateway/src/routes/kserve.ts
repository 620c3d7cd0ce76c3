// The Open Inference Protocol (KServe v2) REST shapes and their translation to and from
// `inference.predict.v1` / `inference.models.v1`. Pure functions, so the routes stay one line each.
import {
  type InputTensor,
  type ModelsReply,
  type OutputTensorInfo,
  ModelName,
  NumericDatatype,
  type PredictReply,
  type PredictRequest,
  RegattaError,
  describeIssues,
} from '@regatta/contracts';
import { z } from 'zod';

/** The platform of every model the inference service serves. */
const ONNX_PLATFORM = 'onnxruntime_onnx';
/** Most dimensions of one tensor. */
const MAX_RANK = 8;

const Parameters = z.record(z.string(), z.unknown());

/** One input tensor of a v2 inference request; `data` may be flat (row-major) or nested by shape. */
export const KserveInput = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()).min(1).max(MAX_RANK),
  datatype: z.string().min(1),
  parameters: Parameters.optional(),
  data: z.array(z.unknown()),
});

/** A v2 inference request body (JSON tensor data only). */
export const KserveInferRequest = z.object({
  id: z.string().max(256).optional(),
  parameters: Parameters.optional(),
  inputs: z.array(KserveInput).min(1).max(64),
  outputs: z
    .array(z.object({ name: z.string().min(1), parameters: Parameters.optional() }))
    .max(64)
    .optional(),
});
export type KserveInferRequest = z.infer<typeof KserveInferRequest>;

/** One output tensor of a v2 inference response. */
export const KserveOutput = z.object({
  name: z.string(),
  shape: z.array(z.number().int()),
  datatype: z.string(),
  data: z.array(z.number()),
});

/** A v2 inference response body. */
export const KserveInferResponse = z.object({
  model_name: z.string(),
  model_version: z.string(),
  id: z.string().optional(),
  outputs: z.array(KserveOutput),
});
export type KserveInferResponse = z.infer<typeof KserveInferResponse>;

/** v2 model metadata: `GET /v2/models/{name}[/versions/{version}]`. */
export const KserveModelMetadata = z.object({
  name: z.string(),
  versions: z.array(z.string()),
  platform: z.string(),
  inputs: z.array(z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.number().int()) })),
  outputs: z.array(z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.number().int()) })),
});
export type KserveModelMetadata = z.infer<typeof KserveModelMetadata>;

/** The error body v2 clients read (Triton's and KServe's clients print `error`). */
export interface KserveError {
  error: string;
}

function invalid(message: string): RegattaError {
  return new RegattaError('INVALID_ARGUMENT', message);
}

/** A model name from the URL, or INVALID_ARGUMENT saying what is wrong with it. */
export function modelParam(name: string): string {
  const parsed = ModelName.safeParse(name);
  if (!parsed.success) throw invalid(`model name "${name.slice(0, 64)}": ${parsed.error.issues[0]!.message}`);
  return name;
}

/** A version from the URL: a positive integer, as the protocol's string. */
export function versionParam(version: string): string {
  if (!/^[1-9][0-9]{0,8}$/.test(version))
    throw invalid(`model version "${version.slice(0, 32)}" is not a positive integer`);
  return version;
}

/**
 * Flattens `data` row-major, checking that it holds only numbers. Nested data must follow the
 * shape; the count is checked against the shape by the inference service.
 */
export function flattenData(
  input: string,
  data: readonly unknown[],
  depth = 0,
  out: number[] = [],
): number[] {
  if (depth > MAX_RANK) throw invalid(`input '${input}' data is nested deeper than ${MAX_RANK} levels`);
  for (const value of data) {
    if (Array.isArray(value)) flattenData(input, value, depth + 1, out);
    else if (typeof value === 'number' && Number.isFinite(value)) out.push(value);
    else {
      const shown =
        value === null
          ? 'null (NaN and infinities are not JSON numbers)'
          : (JSON.stringify(value) ?? typeof value).slice(0, 40);
      throw invalid(`input '${input}' value ${out.length} is ${shown}; expected a number`);
    }
  }
  return out;
}

/** Parses a v2 inference request body; INVALID_ARGUMENT names the first problem. */
export function parseInferRequest(body: unknown): KserveInferRequest {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalid('the request body must be a JSON object with "inputs"');
  const parsed = KserveInferRequest.safeParse(body);
  if (!parsed.success) throw invalid(`invalid inference request: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** The `inference.predict.v1` request for a v2 inference request. */
export function toPredictRequest(
  model: string,
  version: string | undefined,
  req: KserveInferRequest,
): PredictRequest {
  const inputs: InputTensor[] = req.inputs.map((input) => {
    if (input.parameters && 'binary_data_size' in input.parameters) {
      throw invalid(
        `input '${input.name}' uses the binary tensor extension; send JSON "data" (binary_data=False in tritonclient)`,
      );
    }
    const datatype = NumericDatatype.safeParse(input.datatype);
    if (!datatype.success) {
      throw invalid(
        `input '${input.name}' has datatype ${input.datatype.slice(0, 16)}; the models take numeric tensors (${NumericDatatype.options.join(', ')})`,
      );
    }
    return {
      name: input.name,
      shape: input.shape,
      datatype: datatype.data,
      data: flattenData(input.name, input.data),
    };
  });
  const request: PredictRequest = { model, inputs };
  if (version !== undefined) request.version = version;
  if (req.outputs && req.outputs.length > 0) request.outputs = req.outputs.map((o) => o.name);
  // A request-level `cache: false` parameter opts out of the prediction cache.
  if (req.parameters?.['cache'] === false) request.cache = false;
  return request;
}

/** The v2 inference response for a prediction reply. */
export function toInferResponse(reply: PredictReply, id: string | undefined): KserveInferResponse {
  const response: KserveInferResponse = {
    model_name: reply.model,
    model_version: reply.version,
    outputs: tensorsOf(reply).map((t) => ({
      name: t.name,
      shape: t.shape,
      datatype: t.datatype,
      data: (reply.outputs[t.name] ?? []).flat(),
    })),
  };
  if (id !== undefined) response.id = id;
  return response;
}

/** The reply's output tensors; a reply without them (an older replica) is described as FP32 `[rows, values]`. */
function tensorsOf(reply: PredictReply): OutputTensorInfo[] {
  if (reply.output_tensors) return reply.output_tensors;
  return Object.entries(reply.outputs).map(([name, rows]) => ({
    name,
    datatype: 'FP32',
    shape: [rows.length, rows[0]?.length ?? 0],
  }));
}

/** v2 model metadata from `inference.models.v1` (asked for one model, optionally one version). */
export function toModelMetadata(reply: ModelsReply, version: string | undefined): KserveModelMetadata {
  const model = reply.models[0];
  if (!model) throw new RegattaError('NOT_FOUND', 'no such model');
  const wanted = version ?? model.default_version;
  const v = model.versions.find((x) => x.version === wanted);
  if (!v) throw new RegattaError('NOT_FOUND', `model '${model.name}' has no version ${wanted}`);
  const tensor = (t: { name: string; datatype: string; shape: number[] }) => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
  });
  return {
    name: model.name,
    versions: model.versions.map((x) => x.version),
    platform: v.platform ?? ONNX_PLATFORM,
    inputs: v.inputs.map(tensor),
    outputs: v.outputs.map(tensor),
  };
}
