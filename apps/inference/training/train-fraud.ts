/**
 * Trains the demo `fraud` model and writes `model.onnx` + `model.json` into a model-repository
 * version directory. Deterministic: the same seed always produces the same bytes.
 *
 *   pnpm --filter @regatta/inference train                      # rewrites models/fraud/1
 *   pnpm --filter @regatta/inference train -- --out /tmp/fraud  # anywhere else
 *   options: --out <dir> (default models/fraud/1), --seed <n> (default 20240611)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { calibrationDeciles, logLoss, rocAuc, statsAt, thresholdForPrecision } from './evaluation.js';
import { DEFAULT_DATASET_OPTIONS, FRAUD_FEATURES, generateFraudDataset } from './fraud-dataset.js';
import { DEFAULT_TRAIN_OPTIONS, predictLogistic, trainLogistic, type LogisticModel } from './logistic.js';
import { buildOnnxModel } from './onnx-builder.js';

/** Share of transactions (the earliest) used for training; the rest is the holdout. */
export const TRAIN_SHARE = 0.75;
/** Holdout precision the manual-review queue must reach (an analyst sees at most one false alert per fraud). */
export const REVIEW_PRECISION = 0.5;
/** Holdout precision an automatic decline must reach (at most one good payment in ten declines). */
export const DECLINE_PRECISION = 0.9;

/** The trained artefacts and the numbers reported about them. */
export interface FraudTrainingResult {
  onnx: Uint8Array;
  modelJson: string;
  model: LogisticModel;
  holdoutAuc: number;
  holdoutLogLoss: number;
  thresholds: { review: number; decline: number };
}

const round = (x: number, digits = 6): number => Number(x.toFixed(digits));

/** Generates the dataset, trains, evaluates on the holdout and serialises the model; no I/O. */
export function trainFraud(seed: number = DEFAULT_DATASET_OPTIONS.seed): FraudTrainingResult {
  const datasetOptions = { ...DEFAULT_DATASET_OPTIONS, seed };
  const data = generateFraudDataset(datasetOptions);
  const cols = data.cols;
  const trainRows = Math.floor(data.rows * TRAIN_SHARE);
  const holdoutRows = data.rows - trainRows;
  const trainX = data.features.subarray(0, trainRows * cols);
  const trainY = data.labels.subarray(0, trainRows);
  const holdX = data.features.subarray(trainRows * cols);
  const holdY = data.labels.subarray(trainRows);

  const model = trainLogistic(trainX, trainY, trainRows, cols, DEFAULT_TRAIN_OPTIONS);
  const trainScores = predictLogistic(model, trainX, trainRows, cols);
  const holdScores = predictLogistic(model, holdX, holdoutRows, cols);
  const holdoutAuc = rocAuc(holdScores, holdY);
  const holdoutLogLoss = logLoss(holdScores, holdY);
  const review = thresholdForPrecision(holdScores, holdY, REVIEW_PRECISION);
  const decline = thresholdForPrecision(holdScores, holdY, DECLINE_PRECISION);
  let holdFrauds = 0;
  for (const y of holdY) holdFrauds += y;

  const onnx = exportOnnx(model);
  const thresholdStats = (s: ReturnType<typeof statsAt>) => ({
    threshold: s.threshold,
    precision: round(s.precision, 4),
    recall: round(s.recall, 4),
    flagged_rate: round(s.flaggedRate, 4),
  });
  const metadata = {
    name: 'fraud',
    version: 1,
    description:
      'Payment-fraud classifier: probability that a card transaction is fraudulent. Logistic regression over ' +
      'standardised transaction, customer-history and merchant features, trained on synthetic data.',
    inputs: [
      {
        name: 'features',
        features: [...FRAUD_FEATURES],
        shape: [-1, FRAUD_FEATURES.length],
        datatype: 'FP32',
      },
    ],
    outputs: [{ name: 'score', shape: [-1, 1], datatype: 'FP32' }],
    thresholds: { review: review.threshold, decline: decline.threshold },
    training: {
      seed,
      algorithm: 'logistic regression; inputs standardised in-graph (Sub, Div); full-batch gradient descent',
      hyperparameters: {
        iterations: DEFAULT_TRAIN_OPTIONS.iterations,
        learning_rate: DEFAULT_TRAIN_OPTIONS.learningRate,
        l2: DEFAULT_TRAIN_OPTIONS.l2,
      },
      dataset: {
        generator:
          'apps/inference/training/fraud-dataset.ts (process described in models/fraud/MODEL_CARD.md)',
        customers: datasetOptions.customers,
        merchants: datasetOptions.merchants,
        transactions: data.rows,
        train_rows: trainRows,
        holdout_rows: holdoutRows,
        split: `first ${TRAIN_SHARE * 100}% of transactions train, last ${(1 - TRAIN_SHARE) * 100}% holdout`,
        fraud_rate: round(data.fraudRate, 4),
        holdout_frauds: holdFrauds,
      },
      metrics: {
        holdout_auc: round(holdoutAuc, 4),
        holdout_log_loss: round(holdoutLogLoss, 4),
        train_auc: round(rocAuc(trainScores, trainY), 4),
        train_log_loss: round(logLoss(trainScores, trainY), 4),
        calibration: calibrationDeciles(holdScores, holdY).map((b) => ({
          decile: b.decile,
          count: b.count,
          min_score: round(b.minScore, 4),
          max_score: round(b.maxScore, 4),
          mean_score: round(b.meanScore, 4),
          fraud_rate: round(b.fraudRate, 4),
        })),
        thresholds: {
          review: {
            rule: `lowest threshold with holdout precision >= ${REVIEW_PRECISION}`,
            ...thresholdStats(review),
          },
          decline: {
            rule: `lowest threshold with holdout precision >= ${DECLINE_PRECISION}`,
            ...thresholdStats(decline),
          },
        },
      },
    },
  };

  return {
    onnx,
    modelJson: `${formatJson(metadata, 0, 0)}\n`,
    model,
    holdoutAuc,
    holdoutLogLoss,
    thresholds: metadata.thresholds,
  };
}

/** The graph: score = Sigmoid(MatMul((features − mean) / std, W) + b), with a dynamic batch dimension. */
export function exportOnnx(model: LogisticModel): Uint8Array {
  const cols = model.weights.length;
  return buildOnnxModel({
    graphName: 'fraud',
    producer: 'regatta-train-fraud',
    docString: 'Regatta demo payment-fraud classifier (logistic regression).',
    metadata: { features: FRAUD_FEATURES.join(',') },
    inputs: [{ name: 'features', shape: ['batch', cols] }],
    outputs: [{ name: 'score', shape: ['batch', 1] }],
    initializers: [
      { name: 'feature_mean', dims: [cols], data: Float32Array.from(model.mean) },
      { name: 'feature_std', dims: [cols], data: Float32Array.from(model.std) },
      { name: 'weights', dims: [cols, 1], data: Float32Array.from(model.weights) },
      { name: 'bias', dims: [1], data: Float32Array.of(model.bias) },
    ],
    nodes: [
      { op: 'Sub', inputs: ['features', 'feature_mean'], outputs: ['centred'] },
      { op: 'Div', inputs: ['centred', 'feature_std'], outputs: ['standardised'] },
      { op: 'MatMul', inputs: ['standardised', 'weights'], outputs: ['weighted'] },
      { op: 'Add', inputs: ['weighted', 'bias'], outputs: ['logit'] },
      { op: 'Sigmoid', inputs: ['logit'], outputs: ['score'] },
    ],
  });
}

const PRINT_WIDTH = 110;

/**
 * JSON laid out as the repository's Prettier config would lay it out: objects expanded, arrays of
 * primitives on one line when they fit, so `format:check` accepts the generated file unchanged.
 */
export function formatJson(value: unknown, indent: number, column: number): string {
  const pad = ' '.repeat(indent + 2);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => v === null || typeof v !== 'object')) {
      const flat = `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
      // +1 for the comma that may follow on the same line.
      if (column + flat.length + 1 <= PRINT_WIDTH) return flat;
    }
    const items = value.map((v) => pad + formatJson(v, indent + 2, pad.length));
    return `[\n${items.join(',\n')}\n${' '.repeat(indent)}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const lines = entries.map(([k, v]) => {
      const key = `${pad}${JSON.stringify(k)}: `;
      return key + formatJson(v, indent + 2, key.length);
    });
    return `{\n${lines.join(',\n')}\n${' '.repeat(indent)}}`;
  }
  return JSON.stringify(value);
}

/** Writes `model.onnx` and `model.json` into `outDir` (created if missing). */
export function writeFraudModel(outDir: string, result: FraudTrainingResult): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'model.onnx'), result.onnx);
  writeFileSync(path.join(outDir, 'model.json'), result.modelJson);
}

function parseArgs(argv: string[]): { out: string; seed: number } {
  let out = path.join('models', 'fraud', '1');
  let seed = DEFAULT_DATASET_OPTIONS.seed;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (arg === '--') continue;
    if (arg === '--out' && value !== undefined) {
      out = value;
      i++;
    } else if (arg === '--seed' && value !== undefined && /^\d+$/.test(value)) {
      seed = Number(value);
      i++;
    } else {
      throw new Error(
        `unknown or incomplete argument ${arg ?? ''}; usage: train-fraud [--out <dir>] [--seed <n>]`,
      );
    }
  }
  return { out, seed };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { out, seed } = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const result = trainFraud(seed);
  writeFraudModel(out, result);
  process.stdout.write(
    `fraud model written to ${out} in ${Date.now() - started} ms: holdout AUC ${result.holdoutAuc.toFixed(4)}, ` +
      `log loss ${result.holdoutLogLoss.toFixed(4)}, thresholds review ${result.thresholds.review} ` +
      `decline ${result.thresholds.decline}\n`,
  );
}
