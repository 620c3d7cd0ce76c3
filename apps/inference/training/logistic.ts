import { sigmoid } from './prng.js';

/** A logistic regression over standardised inputs: p = σ(w · (x − mean) / std + bias). */
export interface LogisticModel {
  mean: Float64Array;
  std: Float64Array;
  weights: Float64Array;
  bias: number;
}

/** Gradient-descent settings. */
export interface TrainOptions {
  iterations: number;
  learningRate: number;
  /** L2 penalty on the weights (not the bias). */
  l2: number;
}

/** Settings used for the committed fraud model. */
export const DEFAULT_TRAIN_OPTIONS: TrainOptions = { iterations: 400, learningRate: 0.5, l2: 1e-4 };

/** Column means and standard deviations (population); a constant column gets std 1 so it divides safely. */
export function fitStandardiser(
  x: Float64Array,
  rows: number,
  cols: number,
): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(cols);
  const std = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mean[j]! += x[i * cols + j]!;
  for (let j = 0; j < cols; j++) mean[j]! /= rows;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const d = x[i * cols + j]! - mean[j]!;
      std[j]! += d * d;
    }
  }
  for (let j = 0; j < cols; j++) {
    const s = Math.sqrt(std[j]! / rows);
    std[j] = s > 1e-12 ? s : 1;
  }
  return { mean, std };
}

/**
 * Trains by full-batch gradient descent on the mean log loss (+ L2). Full-batch, fixed iteration
 * count and a fixed summation order make the result a pure function of the data.
 */
export function trainLogistic(
  x: Float64Array,
  y: Uint8Array,
  rows: number,
  cols: number,
  options: TrainOptions = DEFAULT_TRAIN_OPTIONS,
): LogisticModel {
  const { mean, std } = fitStandardiser(x, rows, cols);
  const z = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) z[i * cols + j] = (x[i * cols + j]! - mean[j]!) / std[j]!;
  }
  const weights = new Float64Array(cols);
  // Starting the bias at the base-rate logit skips the slow first phase of descent.
  let positives = 0;
  for (let i = 0; i < rows; i++) positives += y[i]!;
  const base = Math.min(Math.max(positives / rows, 1e-6), 1 - 1e-6);
  let bias = Math.log(base / (1 - base));
  const grad = new Float64Array(cols);

  for (let it = 0; it < options.iterations; it++) {
    grad.fill(0);
    let gradBias = 0;
    for (let i = 0; i < rows; i++) {
      let s = bias;
      const off = i * cols;
      for (let j = 0; j < cols; j++) s += weights[j]! * z[off + j]!;
      // Inlined logistic: this loop runs rows × iterations times.
      let p: number;
      if (s >= 0) {
        p = 1 / (1 + Math.exp(-s));
      } else {
        const e = Math.exp(s);
        p = e / (1 + e);
      }
      const err = p - y[i]!;
      gradBias += err;
      for (let j = 0; j < cols; j++) grad[j]! += err * z[off + j]!;
    }
    for (let j = 0; j < cols; j++) {
      weights[j]! -= options.learningRate * (grad[j]! / rows + options.l2 * weights[j]!);
    }
    bias -= (options.learningRate * gradBias) / rows;
  }
  return { mean, std, weights, bias };
}

/** Scores rows with the model's parameters rounded to float32, exactly as the exported graph holds them. */
export function predictLogistic(
  model: LogisticModel,
  x: Float64Array,
  rows: number,
  cols: number,
): Float64Array {
  const mean = Float32Array.from(model.mean);
  const std = Float32Array.from(model.std);
  const w = Float32Array.from(model.weights);
  const b = Math.fround(model.bias);
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = b;
    for (let j = 0; j < cols; j++) s += (w[j]! * (Math.fround(x[i * cols + j]!) - mean[j]!)) / std[j]!;
    out[i] = sigmoid(s);
  }
  return out;
}
