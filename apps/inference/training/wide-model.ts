// A compute-bound model for the inference benchmark: a multi-layer perceptron with fixed pseudo-random
// weights (He initialisation, not trained: its scores mean nothing). Its cost per row is dominated by
// running the model, unlike the fraud model's, so the benchmark can show what the batcher gains when the
// model, not the transport, is the work.
// Usage: pnpm --filter @regatta/inference exec tsc -p training/tsconfig.build.json &&
//        node apps/inference/training/dist/wide-model.js <model-repository> [--hidden 1024,1024] [--inputs 15]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type InitializerSpec, type NodeSpec, buildOnnxModel } from './onnx-builder.js';
import { Prng } from './prng.js';

/** The shape of the MLP: `inputs` features, then one Relu layer per `hidden` width, then one sigmoid score. */
export interface WideModelOptions {
  inputs: number;
  hidden: readonly number[];
  seed: number;
}

export const WIDE_MODEL_DEFAULTS: WideModelOptions = { inputs: 15, hidden: [1024, 1024], seed: 7 };

/** Multiply-adds one row costs: the sum of every layer's inputs x outputs. */
export function wideModelMacsPerRow(options: WideModelOptions): number {
  const widths = [options.inputs, ...options.hidden, 1];
  let macs = 0;
  for (let l = 1; l < widths.length; l++) macs += widths[l - 1]! * widths[l]!;
  return macs;
}

/** The model's ONNX bytes: the same options always give the same bytes. */
export function buildWideModel(options: WideModelOptions = WIDE_MODEL_DEFAULTS): Uint8Array {
  const rng = new Prng(options.seed);
  const widths = [options.inputs, ...options.hidden, 1];
  const initializers: InitializerSpec[] = [];
  const nodes: NodeSpec[] = [];
  let x = 'features';
  for (let l = 1; l < widths.length; l++) {
    const [fanIn, fanOut] = [widths[l - 1]!, widths[l]!];
    const scale = Math.sqrt(2 / fanIn);
    const weights = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < weights.length; i++) weights[i] = rng.normal(0, scale);
    initializers.push(
      { name: `w${l}`, dims: [fanIn, fanOut], data: weights },
      { name: `b${l}`, dims: [fanOut], data: new Float32Array(fanOut) },
    );
    const last = l === widths.length - 1;
    nodes.push(
      { op: 'MatMul', inputs: [x, `w${l}`], outputs: [`m${l}`] },
      { op: 'Add', inputs: [`m${l}`, `b${l}`], outputs: [`z${l}`] },
      { op: last ? 'Sigmoid' : 'Relu', inputs: [`z${l}`], outputs: [last ? 'score' : `h${l}`] },
    );
    x = `h${l}`;
  }
  return buildOnnxModel({
    graphName: 'wide',
    producer: 'regatta-wide-model',
    docString: `Benchmark MLP ${widths.join('-')} with untrained weights (seed ${options.seed}).`,
    inputs: [{ name: 'features', shape: ['batch', options.inputs] }],
    outputs: [{ name: 'score', shape: ['batch', 1] }],
    initializers,
    nodes,
  });
}

/** Writes `<repository>/<name>/1/model.onnx`; the service reads its inputs and outputs from the graph. */
export function writeWideModel(
  repository: string,
  name = 'wide',
  options: WideModelOptions = WIDE_MODEL_DEFAULTS,
): string {
  const dir = path.join(repository, name, '1');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.onnx');
  writeFileSync(file, buildWideModel(options));
  return file;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `pnpm run wide-model -- <args>` passes the `--` on; parseArgs would take everything after it as positionals.
  const args = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--'));
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      hidden: { type: 'string', default: WIDE_MODEL_DEFAULTS.hidden.join(',') },
      inputs: { type: 'string', default: String(WIDE_MODEL_DEFAULTS.inputs) },
      seed: { type: 'string', default: String(WIDE_MODEL_DEFAULTS.seed) },
    },
  });
  const repository = positionals[0];
  if (!repository)
    throw new Error('usage: wide-model.js <model-repository> [--hidden 1024,1024] [--inputs 15]');
  const options = {
    inputs: Number(values.inputs),
    hidden: values.hidden.split(',').map(Number),
    seed: Number(values.seed),
  };
  const file = writeWideModel(repository, 'wide', options);
  process.stdout.write(`${file}: ${wideModelMacsPerRow(options)} multiply-adds per row\n`);
}
