import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { InferenceEngine } from '../src/engine/index.js';
import { generateFraudDataset, DEFAULT_DATASET_OPTIONS, FRAUD_FEATURES } from './fraud-dataset.js';
import { predictLogistic } from './logistic.js';
import { trainFraud, writeFraudModel, type FraudTrainingResult } from './train-fraud.js';

const COMMITTED = fileURLToPath(new URL('../models/fraud/1', import.meta.url));

const sha256 = async (file: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

describe('trainFraud', () => {
  let root: string;
  let dir: string;
  let result: FraudTrainingResult;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'regatta-train-'));
    dir = path.join(root, 'fraud', '1');
    result = trainFraud(DEFAULT_DATASET_OPTIONS.seed);
    writeFraudModel(dir, result);
  }, 60_000);
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('regenerates the committed model.onnx and model.json byte for byte from the seed', async () => {
    expect(await sha256(path.join(dir, 'model.onnx'))).toBe(await sha256(path.join(COMMITTED, 'model.onnx')));
    expect(await sha256(path.join(dir, 'model.json'))).toBe(await sha256(path.join(COMMITTED, 'model.json')));
  });

  it('produces a different dataset for a different seed', () => {
    const a = generateFraudDataset({ ...DEFAULT_DATASET_OPTIONS, transactions: 1000 });
    const b = generateFraudDataset({ ...DEFAULT_DATASET_OPTIONS, transactions: 1000, seed: 7 });
    expect(a.features).not.toEqual(b.features);
  });

  it('separates fraud well but not perfectly on the holdout, with ordered thresholds', () => {
    expect(result.holdoutAuc).toBeGreaterThan(0.85);
    expect(result.holdoutAuc).toBeLessThan(0.95);
    expect(result.holdoutLogLoss).toBeLessThan(0.1);
    expect(result.thresholds.review).toBeLessThan(result.thresholds.decline);
  });

  it('exports a graph that serves the trained model scores', async () => {
    const data = generateFraudDataset({ ...DEFAULT_DATASET_OPTIONS, seed: 99, transactions: 64 });
    const expected = predictLogistic(result.model, data.features, data.rows, data.cols);
    const engine = new InferenceEngine();
    await engine.start({ modelRepository: root, workers: 1 });
    try {
      expect(engine.models()[0]).toMatchObject({
        features: [...FRAUD_FEATURES],
        inputs: [{ name: 'features' }],
      });
      const served = await engine.predict({ model: 'fraud', rows: Float32Array.from(data.features) });
      expect(served.outputs.score).toHaveLength(data.rows);
      served.outputs.score!.forEach(([score], i) => expect(score).toBeCloseTo(expected[i]!, 6));
    } finally {
      await engine.close();
    }
  });
});
