import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** One graph input or output as the ONNX protobuf declares it; -1 marks a symbolic or unknown dimension. */
export interface GraphTensor {
  name: string;
  /** Triton-style name (`FP32`, `INT64`...), or `ONNX_TYPE_<n>` for element types Regatta does not serve. */
  datatype: string;
  /** Undefined when the graph does not declare a shape (unknown rank). */
  shape: number[] | undefined;
  /** False for sequences, maps and other non-tensor values. */
  isTensor: boolean;
}

/** The interface of an ONNX model read from its protobuf. */
export interface GraphSignature {
  inputs: GraphTensor[];
  outputs: GraphTensor[];
  irVersion: number;
  opset: number | undefined;
  producer: string;
}

const DATATYPES: Record<number, string> = {
  [onnx.TensorProto.DataType.FLOAT]: 'FP32',
  [onnx.TensorProto.DataType.DOUBLE]: 'FP64',
  [onnx.TensorProto.DataType.INT32]: 'INT32',
  [onnx.TensorProto.DataType.INT64]: 'INT64',
  [onnx.TensorProto.DataType.BOOL]: 'BOOL',
};

// int64 fields decode as Long objects when long.js is present, as numbers otherwise.
function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(String(value));
}

function describe(value: onnxProto.onnx.IValueInfoProto): GraphTensor {
  const tensor = value.type?.tensorType;
  const name = value.name ?? '';
  if (!tensor) return { name, datatype: 'NON_TENSOR', shape: undefined, isTensor: false };
  const elemType = tensor.elemType ?? 0;
  const shape = tensor.shape
    ? (tensor.shape.dim ?? []).map((d) => {
        // A dim named by dim_param (or left unset, which proto3 decodes as 0) is dynamic.
        const n = d.dimValue === undefined || d.dimValue === null ? 0 : toNumber(d.dimValue);
        return n > 0 ? n : -1;
      })
    : undefined;
  return { name, datatype: DATATYPES[elemType] ?? `ONNX_TYPE_${elemType}`, shape, isTensor: true };
}

/**
 * Reads inputs, outputs and versions from serialised ONNX bytes. Initializers listed among the graph
 * inputs (older exporters do this) are not inputs a caller feeds, so they are left out.
 */
export function readGraphSignature(bytes: Uint8Array): GraphSignature {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) throw new Error('the file holds no ONNX graph');
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const defaultOpset = (model.opsetImport ?? []).find((o) => !o.domain);
  return {
    inputs: (graph.input ?? []).filter((v) => !initializers.has(v.name)).map(describe),
    outputs: (graph.output ?? []).map(describe),
    irVersion: toNumber(model.irVersion ?? 0),
    opset: defaultOpset ? toNumber(defaultOpset.version ?? 0) : undefined,
    producer: model.producerName ?? '',
  };
}
