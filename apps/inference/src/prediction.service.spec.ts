import { describe, expect, it } from '@jest/globals';
import { FeatureCache } from '@regatta/cache';
import { RegattaError, type PredictRequest } from '@regatta/contracts';
import { type ModelInfo, type PredictRequest as EngineRequest, type PredictResult } from './engine/index.js';
import { type PredictionEngine, PredictionService } from './prediction.service.js';
import { failure } from './testing/fixtures.js';

const FRAUD: ModelInfo = {
  name: 'fraud',
  version: 2,
  isDefault: true,
  versions: [1, 2],
  inputs: [{ name: 'features', features: ['amount', 'hour', 'online'], shape: [-1, 3], datatype: 'FP32' }],
  outputs: [
    { name: 'score', shape: [-1, 1], datatype: 'FP32' },
    { name: 'parts', shape: [-1, 3], datatype: 'FP32' },
  ],
  featureCount: 3,
  features: ['amount', 'hour', 'online'],
  maxBatchRows: 4,
  metadataSource: 'model.json',
  metrics: { holdout_auc: 0.93, calibration: [{ decile: 1 }] },
  thresholds: { review: 0.5 },
};
const FRAUD_V1: ModelInfo = { ...FRAUD, version: 1, isDefault: false, metrics: undefined };
/** A graph-only model with two inputs: `x` shaped [batch] and `y` shaped [batch, 2]. */
const PAIR: ModelInfo = {
  name: 'pair',
  version: 1,
  isDefault: true,
  versions: [1],
  inputs: [
    { name: 'x', shape: [-1], datatype: 'FP32' },
    { name: 'y', shape: [-1, 2], datatype: 'FP32' },
  ],
  outputs: [{ name: 'sum', shape: [-1], datatype: 'FP32' }],
  featureCount: 3,
  maxBatchRows: 8,
  metadataSource: 'graph',
};

/** An engine whose model sums each row (score) and echoes it (parts); it records every call. */
class FakeEngine implements PredictionEngine {
  readonly calls: { model: string; version: number | undefined; rows: number[][]; deadlineMs?: number }[] =
    [];
  ready = true;

  models(): ModelInfo[] {
    return [FRAUD_V1, FRAUD, PAIR];
  }

  predict(request: EngineRequest): Promise<PredictResult> {
    const rows = toRows(request.rows, 3);
    this.calls.push({
      model: request.model,
      version: request.version,
      rows,
      ...(request.deadlineMs !== undefined && { deadlineMs: request.deadlineMs }),
    });
    const sums = rows.map((r) => [r.reduce((a, b) => a + b, 0) + (request.version ?? 0) * 1000]);
    const outputs: Record<string, number[][]> =
      request.model === 'pair' ? { sum: sums } : { score: sums, parts: rows.map((r) => [...r]) };
    return Promise.resolve({ model: request.model, version: request.version ?? 0, outputs });
  }
}

function toRows(rows: EngineRequest['rows'], cols: number): number[][] {
  if (!(rows instanceof Float32Array)) return rows.map((r) => [...r]);
  const out: number[][] = [];
  for (let i = 0; i < rows.length; i += cols) out.push([...rows.subarray(i, i + cols)]);
  return out;
}

function setup(options: { cache?: boolean; timeoutMs?: number } = {}) {
  const engine = new FakeEngine();
  const recorded = { inference: [] as boolean[], cache: [] as boolean[] };
  const service = new PredictionService(engine, {
    cache: options.cache === false ? undefined : new FeatureCache({ maxEntries: 1000 }),
    timeoutMs: options.timeoutMs ?? 0,
    slo: {
      recordInference: (_ms: number, ok?: boolean) => recorded.inference.push(ok ?? true),
      recordCache: (hit: boolean) => recorded.cache.push(hit),
    },
  });
  const predict = (request: PredictRequest, deadline = Date.now() + 1_000) =>
    service.predict({ cache: true, ...request }, deadline);
  return { engine, service, predict, recorded };
}

describe(PredictionService.name, () => {
  describe('predict', () => {
    it('scores positional rows with the default version and describes each output tensor', async () => {
      const { predict, engine } = setup({ cache: false });
      const reply = await predict({
        model: 'fraud',
        rows: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      });
      expect(reply).toEqual({
        model: 'fraud',
        version: '2',
        outputs: {
          score: [[2006], [2015]],
          parts: [
            [1, 2, 3],
            [4, 5, 6],
          ],
        },
        output_tensors: [
          { name: 'score', datatype: 'FP32', shape: [2, 1] },
          { name: 'parts', datatype: 'FP32', shape: [2, 3] },
        ],
        cache_hits: 0,
      });
      expect(engine.calls).toHaveLength(1);
      expect(engine.calls[0]!.version).toBe(2);
    });

    it('maps named features to the model order, whatever order the caller used', async () => {
      const { predict, engine } = setup({ cache: false });
      const reply = await predict({ model: 'fraud', rows: [{ online: 1, amount: 10, hour: 3 }] });
      expect(engine.calls[0]!.rows).toEqual([[10, 3, 1]]);
      expect(reply.outputs.parts).toEqual([[10, 3, 1]]);
    });

    it('names the missing and the unknown features of a named row', async () => {
      const { predict, engine } = setup();
      const err = await failure(
        predict({ model: 'fraud', rows: [[1, 2, 3], { amount: 1, hours: 2, online: 0 }] }),
      );
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toBe(
        'row 1 is missing feature hour and has unknown feature hours; model fraud:2 takes amount, hour, online',
      );
      expect(engine.calls).toHaveLength(0);
    });

    it('refuses named rows for a model without feature names', async () => {
      const { predict } = setup();
      const err = await failure(predict({ model: 'pair', rows: [{ x: 1 }] }));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toContain(
        'model pair:1 has no feature names; send each row as an array of 3 numbers',
      );
    });

    it('says which row has the wrong number of values', async () => {
      const { predict } = setup();
      const err = await failure(
        predict({
          model: 'fraud',
          rows: [
            [1, 2, 3],
            [1, 2],
          ],
        }),
      );
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toContain('row 1 has 2 values; model fraud:2 expects 3 (amount, hour, online)');
    });

    it('refuses a value outside the float32 range the model takes', async () => {
      const { predict } = setup();
      const err = await failure(predict({ model: 'fraud', rows: [[1, 1e39, 3]] }));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toContain('row 0 column 1 (hour)');
    });

    it('refuses more rows than the model takes per request', async () => {
      const { predict } = setup();
      const rows = Array.from({ length: 5 }, (_, i) => [i, 0, 0]);
      const err = await failure(predict({ model: 'fraud', rows }));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toContain('request has 5 rows; model fraud:2 takes at most 4 rows per request');
    });

    it('is NOT_FOUND for an unknown model or version, naming what is served', async () => {
      const { predict } = setup();
      const model = await failure(predict({ model: 'churn', rows: [[1]] }));
      expect(model.code).toBe('NOT_FOUND');
      expect(model.message).toBe("model 'churn' is not served (served: fraud, pair)");
      const version = await failure(predict({ model: 'fraud', version: '7', rows: [[1, 2, 3]] }));
      expect(version.code).toBe('NOT_FOUND');
      expect(version.message).toBe("model 'fraud' has no version 7 (served versions: 1, 2)");
    });

    it('serves a pinned version, given as a number or a string', async () => {
      const { predict } = setup({ cache: false });
      expect((await predict({ model: 'fraud', version: 1, rows: [[0, 0, 0]] })).outputs.score).toEqual([
        [1000],
      ]);
      expect((await predict({ model: 'fraud', version: '1', rows: [[0, 0, 0]] })).version).toBe('1');
    });

    it('returns only the outputs asked for, and refuses an output the model lacks', async () => {
      const { predict } = setup();
      const reply = await predict({ model: 'fraud', rows: [[1, 1, 1]], outputs: ['parts'] });
      expect(Object.keys(reply.outputs)).toEqual(['parts']);
      expect(reply.output_tensors!.map((t) => t.name)).toEqual(['parts']);
      const err = await failure(predict({ model: 'fraud', rows: [[1, 1, 1]], outputs: ['prob'] }));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toBe("model fraud:2 has no output 'prob' (outputs: score, parts)");
    });

    it('caps the deadline at the configured timeout', async () => {
      const { predict, engine } = setup({ timeoutMs: 50 });
      const before = Date.now();
      await predict({ model: 'fraud', rows: [[1, 2, 3]] }, before + 10_000);
      expect(engine.calls[0]!.deadlineMs).toBeLessThanOrEqual(Date.now() + 50);
      expect(engine.calls[0]!.deadlineMs).toBeGreaterThanOrEqual(before + 50);
    });
  });

  describe('predict with the cache', () => {
    it('answers a repeated call from the cache without running the model', async () => {
      const { predict, engine, recorded } = setup();
      const first = await predict({ model: 'fraud', rows: [[1, 2, 3]] });
      const second = await predict({ model: 'fraud', rows: [[1, 2, 3]] });
      expect(first.cache_hits).toBe(0);
      expect(second.cache_hits).toBe(1);
      expect(second.outputs).toEqual(first.outputs);
      expect(engine.calls).toHaveLength(1);
      expect(recorded.cache).toEqual([false, true]);
    });

    it('runs only the rows of a batch it has not cached, and keeps the caller order', async () => {
      const { predict, engine } = setup();
      await predict({ model: 'fraud', rows: [[1, 1, 1]] });
      const reply = await predict({
        model: 'fraud',
        rows: [
          [2, 2, 2],
          [1, 1, 1],
          [3, 3, 3],
        ],
      });
      expect(reply.cache_hits).toBe(1);
      expect(engine.calls[1]!.rows).toEqual([
        [2, 2, 2],
        [3, 3, 3],
      ]);
      expect(reply.outputs.score).toEqual([[2006], [2003], [2009]]);
    });

    it('treats a named row and the same values in order as one cache entry', async () => {
      const { predict, engine } = setup();
      await predict({ model: 'fraud', rows: [[5, 6, 1]] });
      const reply = await predict({ model: 'fraud', rows: [{ hour: 6, online: 1, amount: 5 }] });
      expect(reply.cache_hits).toBe(1);
      expect(engine.calls).toHaveLength(1);
    });

    it('keeps versions apart', async () => {
      const { predict, engine } = setup();
      await predict({ model: 'fraud', rows: [[1, 2, 3]] });
      const v1 = await predict({ model: 'fraud', version: 1, rows: [[1, 2, 3]] });
      expect(v1.cache_hits).toBe(0);
      expect(v1.outputs.score).toEqual([[1006]]);
      expect(engine.calls).toHaveLength(2);
    });

    it('bypasses the cache when the request says cache=false', async () => {
      const { predict, engine } = setup();
      await predict({ model: 'fraud', rows: [[1, 2, 3]] });
      const reply = await predict({ model: 'fraud', rows: [[1, 2, 3]], cache: false });
      expect(reply.cache_hits).toBe(0);
      expect(engine.calls).toHaveLength(2);
    });
  });

  describe('predict with input tensors', () => {
    it('builds rows from every input in the model input order', async () => {
      const { predict, engine } = setup({ cache: false });
      const reply = await predict({
        model: 'pair',
        inputs: [
          { name: 'y', shape: [2, 2], datatype: 'FP32', data: [10, 20, 30, 40] },
          { name: 'x', shape: [2], datatype: 'INT64', data: [1, 2] },
        ],
      });
      expect(engine.calls[0]!.rows).toEqual([
        [1, 10, 20],
        [2, 30, 40],
      ]);
      expect(reply.outputs.sum).toEqual([[1031], [1072]]);
      expect(reply.output_tensors).toEqual([{ name: 'sum', datatype: 'FP32', shape: [2] }]);
    });

    it('accepts [batch, 1] for a [batch] input', async () => {
      const { predict } = setup();
      const reply = await predict({
        model: 'pair',
        inputs: [
          { name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] },
          { name: 'y', shape: [1, 2], datatype: 'FP32', data: [2, 3] },
        ],
      });
      expect(reply.outputs.sum).toEqual([[1006]]);
    });

    it.each([
      [
        'a wrong shape',
        [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }],
        "input 'features' has shape [1, 4]; model fraud:2 takes [-1, 3] (-1 = any batch size)",
      ],
      [
        'too few values for the shape',
        [{ name: 'features', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3] }],
        "input 'features' has 3 values; shape [2, 3] needs 6",
      ],
      [
        'an unknown input',
        [{ name: 'feats', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }],
        "model fraud:2 has no input 'feats' (inputs: features)",
      ],
      [
        'a fractional value in an integer tensor',
        [{ name: 'features', shape: [1, 3], datatype: 'INT32', data: [1, 2.5, 3] }],
        "input 'features' is INT32 (integers -2147483648 to 2147483647) but value 1 is 2.5",
      ],
      [
        'a value outside an integer type',
        [{ name: 'features', shape: [1, 3], datatype: 'INT8', data: [1, -128, 300] }],
        "input 'features' is INT8 (integers -128 to 127) but value 2 is 300",
      ],
      [
        'a negative value in an unsigned tensor',
        [{ name: 'features', shape: [1, 3], datatype: 'UINT16', data: [65535, -1, 3] }],
        "input 'features' is UINT16 (integers 0 to 65535) but value 1 is -1",
      ],
      [
        'an empty batch',
        [{ name: 'features', shape: [0, 3], datatype: 'FP32', data: [] }],
        'the inputs hold no rows (batch size 0); send at least one row',
      ],
    ] as const)('refuses %s', async (_what, inputs, message) => {
      const { predict } = setup();
      const err = await failure(
        predict({ model: 'fraud', inputs: inputs as unknown as PredictRequest['inputs'] }),
      );
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toBe(message);
    });

    it('refuses a missing input and inputs with different batch sizes', async () => {
      const { predict } = setup();
      const missing = await failure(
        predict({ model: 'pair', inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }),
      );
      expect(missing.message).toBe("input 'y' is missing; model pair:1 needs it");
      const batches = await failure(
        predict({
          model: 'pair',
          inputs: [
            { name: 'x', shape: [2], datatype: 'FP32', data: [1, 2] },
            { name: 'y', shape: [1, 2], datatype: 'FP32', data: [1, 2] },
          ],
        }),
      );
      expect(batches.message).toBe(
        "input 'y' has batch size 1 but an earlier input has 2; every input needs the same batch size",
      );
    });
  });

  describe('SLO recording', () => {
    it('records served requests and server faults, not malformed requests', async () => {
      const { predict, engine, recorded } = setup();
      await predict({ model: 'fraud', rows: [[1, 2, 3]] });
      await failure(predict({ model: 'fraud', rows: [[1, 2]] }));
      engine.predict = () => Promise.reject(new RegattaError('OVERLOADED', 'queue full'));
      await failure(predict({ model: 'fraud', rows: [[7, 7, 7]] }));
      expect(recorded.inference).toEqual([true, false]);
    });
  });

  describe('models', () => {
    it('lists every model with its versions, default, limits and headline metrics', () => {
      const { service } = setup();
      const { models } = service.models({});
      expect(models.map((m) => [m.name, m.default_version, m.versions.map((v) => v.version)])).toEqual([
        ['fraud', '2', ['1', '2']],
        ['pair', '1', ['1']],
      ]);
      expect(models[0]!.versions[1]).toEqual({
        version: '2',
        ready: true,
        platform: 'onnxruntime_onnx',
        inputs: [
          { name: 'features', datatype: 'FP32', shape: [-1, 3], features: ['amount', 'hour', 'online'] },
        ],
        outputs: [
          { name: 'score', datatype: 'FP32', shape: [-1, 1] },
          { name: 'parts', datatype: 'FP32', shape: [-1, 3] },
        ],
        feature_count: 3,
        max_batch_rows: 4,
        metrics: { holdout_auc: 0.93 },
        thresholds: { review: 0.5 },
      });
    });

    it('describes one version when asked, and is NOT_FOUND for one it does not serve', () => {
      const { service } = setup();
      const { models } = service.models({ model: 'fraud', version: '1' });
      expect(models[0]!.versions.map((v) => v.version)).toEqual(['1']);
      expect(() => service.models({ model: 'fraud', version: 3 })).toThrow(
        "model 'fraud' has no version 3 (served versions: 1, 2)",
      );
    });
  });
});
