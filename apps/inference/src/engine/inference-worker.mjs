// Inference worker: opens one onnxruntime session per model version and runs the batches the
// WorkerPool posts. onnxruntime's run blocks its thread, which is why it lives here and not on the
// main thread. Plain JavaScript so the same file runs from src/ (jest) and dist/ (copied by the build);
// the message contract is typed in worker-protocol.ts.
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

import ort from 'onnxruntime-node';

/** @typedef {import('./worker-protocol.js').WorkerInit} WorkerInit */
/** @typedef {import('./worker-protocol.js').WorkerModelSpec} WorkerModelSpec */

const port = parentPort;
if (!port) throw new Error('inference-worker.mjs must run in a worker thread');

/** @type {WorkerInit} */
const init = workerData;
/** @type {Map<string, { spec: WorkerModelSpec, session: import('onnxruntime-node').InferenceSession, cols: number }>} */
const models = new Map();

/** Builds the feeds for `rows` packed rows: one tensor per input, columns split in input order. */
function feedsFor(model, rows, values) {
  const feeds = {};
  const { spec, cols } = model;
  if (spec.inputs.length === 1) {
    const input = spec.inputs[0];
    feeds[input.name] = new ort.Tensor('float32', values, input.rank === 1 ? [rows] : [rows, input.cols]);
    return feeds;
  }
  let first = 0;
  for (const input of spec.inputs) {
    const part = new Float32Array(rows * input.cols);
    for (let r = 0; r < rows; r++) {
      part.set(values.subarray(r * cols + first, r * cols + first + input.cols), r * input.cols);
    }
    feeds[input.name] = new ort.Tensor('float32', part, input.rank === 1 ? [rows] : [rows, input.cols]);
    first += input.cols;
  }
  return feeds;
}

/** Copies each output into a fresh transferable buffer: float32 stays float32, every other type becomes float64. */
function collect(model, rows, results) {
  const outputs = [];
  for (const name of model.spec.outputs) {
    const tensor = results[name];
    if (!tensor) throw new Error(`the model returned no output '${name}'`);
    if (tensor.dims[0] !== rows) {
      throw new Error(`output '${name}' has leading dimension ${tensor.dims[0]} for a batch of ${rows} rows`);
    }
    const cols = tensor.dims.slice(1).reduce((a, b) => a * b, 1);
    if (tensor.type === 'float32') {
      const copy = new Float32Array(tensor.data);
      outputs.push({ name, cols, kind: 'f32', buffer: copy.buffer });
    } else {
      const copy = new Float64Array(tensor.data.length);
      for (let i = 0; i < copy.length; i++) copy[i] = Number(tensor.data[i]);
      outputs.push({ name, cols, kind: 'f64', buffer: copy.buffer });
    }
  }
  return outputs;
}

async function start() {
  const timings = [];
  for (const spec of init.models) {
    const loadStart = performance.now();
    const session = await ort.InferenceSession.create(spec.path, init.sessionOptions);
    const loadMs = performance.now() - loadStart;
    const cols = spec.inputs.reduce((sum, input) => sum + input.cols, 0);
    const model = { spec, session, cols };
    // Warm-up: the first run allocates and plans; doing it now keeps that cost off the first request.
    const warmStart = performance.now();
    const results = await session.run(feedsFor(model, 1, new Float32Array(cols)), spec.outputs);
    collect(model, 1, results);
    const warmupMs = performance.now() - warmStart;
    models.set(spec.key, model);
    timings.push({ key: spec.key, loadMs, warmupMs });
  }
  return timings;
}

async function run(message) {
  const model = models.get(message.key);
  if (!model) throw new Error(`model ${message.key} is not loaded in this worker`);
  const values = new Float32Array(message.buffer);
  const started = performance.now();
  const results = await model.session.run(feedsFor(model, message.rows, values), model.spec.outputs);
  const computeMs = performance.now() - started;
  const outputs = collect(model, message.rows, results);
  return { computeMs, outputs };
}

async function stop() {
  for (const model of models.values()) await model.session.release();
  models.clear();
  port.close();
}

port.on('message', (message) => {
  if (message.type === 'run') {
    run(message).then(
      ({ computeMs, outputs }) =>
        port.postMessage(
          { type: 'result', id: message.id, computeMs, outputs },
          outputs.map((o) => o.buffer),
        ),
      (err) => port.postMessage({ type: 'failed', id: message.id, message: String(err?.message ?? err) }),
    );
  } else if (message.type === 'stop') {
    stop().catch(() => process.exit(0));
  }
});

start().then(
  (timings) => port.postMessage({ type: 'ready', models: timings }),
  (err) => port.postMessage({ type: 'fatal', message: String(err?.message ?? err) }),
);
