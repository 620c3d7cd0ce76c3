/**
 * Messages between the WorkerPool (main thread) and inference-worker.mjs. The worker is plain
 * JavaScript so the same file runs from src/ under jest and from dist/ in production; these types are
 * the contract both sides keep.
 */

/** How a worker feeds one model input from the packed request rows. */
export interface WorkerInputSpec {
  name: string;
  /** Columns of the row this input takes, in order. */
  cols: number;
  /** 1 for a `[batch]` tensor, 2 for `[batch, cols]`. */
  rank: 1 | 2;
}

/** One model version a worker opens. */
export interface WorkerModelSpec {
  key: string;
  path: string;
  inputs: WorkerInputSpec[];
  outputs: string[];
}

/** `workerData` of every worker. */
export interface WorkerInit {
  models: WorkerModelSpec[];
  /** onnxruntime session options, passed through unchanged. */
  sessionOptions: Record<string, unknown>;
}

/** Main → worker. */
export type ToWorker =
  { type: 'run'; id: number; key: string; rows: number; buffer: ArrayBuffer } | { type: 'stop' };

/** One output of a batch, row-major; `kind` says how to view `buffer`. */
export interface WireOutput {
  name: string;
  cols: number;
  kind: 'f32' | 'f64';
  buffer: ArrayBuffer;
}

/** Per-model start-up timings a worker reports. */
export interface WorkerModelTiming {
  key: string;
  loadMs: number;
  warmupMs: number;
}

/** Worker → main. */
export type FromWorker =
  | { type: 'ready'; models: WorkerModelTiming[] }
  | { type: 'fatal'; message: string }
  | { type: 'result'; id: number; computeMs: number; outputs: WireOutput[] }
  | { type: 'failed'; id: number; message: string };
