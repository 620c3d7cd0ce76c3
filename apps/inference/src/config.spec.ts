import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '@regatta/config';
import { checkInferenceConfig, inferenceEnv } from './config.js';
import { engineOptions } from './service.js';

describe('inferenceEnv', () => {
  it('has a documented default for every knob', () => {
    const config = loadConfig(inferenceEnv, {});
    expect(config).toMatchObject({
      INFERENCE_MAX_BATCH_ROWS: 256,
      INFERENCE_MAX_WAIT_MS: 0,
      INFERENCE_MAX_QUEUE_ROWS: 4096,
      INFERENCE_TIMEOUT_MS: 0,
      INFERENCE_SHEDDING: true,
      PREDICTION_CACHE: true,
      PREDICTION_CACHE_TTL_MS: 600_000,
      MODEL_DEFAULT_VERSIONS: {},
    });
    for (const v of Object.values(inferenceEnv)) expect(v.doc.length).toBeGreaterThan(10);
  });

  it('turns the variables into engine options', () => {
    const config = loadConfig(inferenceEnv, {
      INFERENCE_WORKERS: '3',
      INFERENCE_MAX_BATCH_ROWS: '1',
      INFERENCE_MAX_WAIT_MS: '0.5',
      INFERENCE_SHEDDING: 'false',
      MODEL_DEFAULT_VERSIONS: 'fraud=1, churn=12',
    });
    expect(engineOptions(config)).toMatchObject({
      workers: 3,
      defaultVersions: { fraud: 1, churn: 12 },
      batcher: { maxBatchRows: 1, maxWaitMs: 0.5, shedding: false },
    });
  });

  it('names a malformed version pin', () => {
    expect(() => loadConfig(inferenceEnv, { MODEL_DEFAULT_VERSIONS: 'fraud:1' })).toThrow(
      /MODEL_DEFAULT_VERSIONS: "fraud:1" is not model=version/,
    );
  });
});

describe(checkInferenceConfig.name, () => {
  it('refuses a queue smaller than one batch, naming the variable', () => {
    const config = loadConfig(inferenceEnv, {
      INFERENCE_MAX_BATCH_ROWS: '512',
      INFERENCE_MAX_QUEUE_ROWS: '100',
    });
    expect(() => checkInferenceConfig(config)).toThrow(ConfigError);
    expect(() => checkInferenceConfig(config)).toThrow(
      /INFERENCE_MAX_QUEUE_ROWS: must be at least INFERENCE_MAX_BATCH_ROWS \(512\)/,
    );
  });
});
