import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Tensor element types this builder writes. */
export type ElemType = 'float32' | 'float64' | 'int64';

const ELEM_TYPES: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
};

/** A graph input or output: a dimension is a fixed size or a symbolic (dynamic) name. */
export interface ValueSpec {
  name: string;
  type?: ElemType;
  shape: (number | string)[];
}

/** A constant float32 tensor stored in the graph. */
export interface InitializerSpec {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** One operator node. */
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  /** Integer and float attributes, e.g. Gemm's transB. */
  attributes?: Record<string, number>;
}

/** Everything needed to serialise a small single-graph ONNX model. */
export interface ModelSpec {
  graphName: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  initializers?: InitializerSpec[];
  nodes: NodeSpec[];
  /** Default-domain opset; 13 is supported by every onnxruntime release Regatta uses. */
  opset?: number;
  producer?: string;
  docString?: string;
  metadata?: Record<string, string>;
}

/**
 * Serialises a model with the protobufjs-generated ONNX types. The encoding contains no timestamps
 * or map iteration, so the same spec always yields the same bytes.
 */
export function buildOnnxModel(spec: ModelSpec): Uint8Array {
  const valueInfo = (v: ValueSpec): onnxProto.onnx.IValueInfoProto => ({
    name: v.name,
    type: {
      tensorType: {
        elemType: ELEM_TYPES[v.type ?? 'float32'],
        shape: {
          dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  });
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }],
    producerName: spec.producer ?? 'regatta',
    producerVersion: '1',
    docString: spec.docString ?? '',
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: spec.graphName,
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map((t) => ({
        name: t.name,
        dims: t.dims,
        dataType: onnx.TensorProto.DataType.FLOAT,
        // ONNX raw_data is little-endian, as are the x64 and arm64 hosts Regatta runs on.
        rawData: new Uint8Array(
          t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength),
        ),
      })),
      node: spec.nodes.map((n, i) => ({
        name: n.name ?? `${n.op.toLowerCase()}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([name, value]) =>
          Number.isInteger(value)
            ? { name, type: onnx.AttributeProto.AttributeType.INT, i: value }
            : { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value },
        ),
      })),
    },
  };
  return onnx.ModelProto.encode(model).finish();
}
