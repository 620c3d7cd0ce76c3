import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getRegistry } from '@regatta/telemetry';

import { buildOnnxModel } from '../../training/onnx-builder.js';
import { InferenceEngine, type PredictRequest } from './inference-engine.js';
import { failure, fraudRows } from '../testing/fixtures.js';

const MODELS = fileURLToPath(new URL('../../models', import.meta.url));
const CRASHING_WORKER = new URL('./__fixtures__/crashing-worker.mjs', import.meta.url);

describe(InferenceEngine.name, () => {
  describe('with the fraud model', () => {
    const engine = new InferenceEngine();
    let report: Awaited<ReturnType<InferenceEngine['start']>>;

    beforeAll(async () => {
      expect(engine.ready).toBe(false);
      report = await engine.start({ modelRepository: MODELS, workers: 2, batcher: { maxBatchRows: 64 } });
    });
    afterAll(() => engine.close());

    describe('start', () => {
      it('is ready only after every model ran once in every worker, and reports the cold start', () => {
        expect(engine.ready).toBe(true);
        expect(report.workers).toBe(2);
        expect(report.coldStartMs).toBeGreaterThan(0);
        const workers = engine.stats().workers!;
        expect(workers.live).toBe(2);
        expect(workers.workers).toHaveLength(2);
        for (const w of workers.workers) {
          expect(w.models.map((m) => m.key)).toEqual(['fraud:1']);
          expect(w.models[0]!.warmupMs).toBeGreaterThan(0);
        }
      });
    });

    describe('models', () => {
      it('lists the fraud model with its features, limits and thresholds', () => {
        const [fraud] = engine.models();
        expect(fraud).toMatchObject({
          name: 'fraud',
          version: 1,
          isDefault: true,
          versions: [1],
          featureCount: 15,
          maxBatchRows: 64,
          metadataSource: 'model.json',
          outputs: [{ name: 'score', shape: [-1, 1], datatype: 'FP32' }],
        });
        expect(fraud!.features).toHaveLength(15);
        expect(fraud!.thresholds!.review).toBeLessThan(fraud!.thresholds!.decline!);
      });
    });

    describe('predict', () => {
      it('returns one probability per row', async () => {
        const rows = fraudRows(3, 1);
        const result = await engine.predict({ model: 'fraud', rows });
        expect(result.model).toBe('fraud');
        expect(result.version).toBe(1);
        expect(result.outputs.score).toHaveLength(3);
        for (const [p] of result.outputs.score!) {
          expect(p).toBeGreaterThan(0);
          expect(p).toBeLessThan(1);
        }
      });

      it('gives batched rows exactly the scores they get alone', async () => {
        const rows = fraudRows(200, 2);
        const alone: number[] = [];
        for (const row of rows) {
          const r = await engine.predict({ model: 'fraud', rows: [row] });
          alone.push(r.outputs.score![0]![0]!);
        }
        const before = engine.stats().models[0]!;
        const concurrent = await Promise.all(
          rows.map((row) => engine.predict({ model: 'fraud', rows: [row] })),
        );
        const after = engine.stats().models[0]!;
        // Concurrent single-row requests were really executed together.
        expect(after.executions - before.executions).toBeLessThan(rows.length);
        expect(concurrent.map((r) => r.outputs.score![0]![0])).toEqual(alone);

        const flat = new Float32Array(rows.slice(0, 64).flat());
        const multi = await engine.predict({ model: 'fraud', rows: flat });
        expect(multi.outputs.score!.map(([p]) => p)).toEqual(alone.slice(0, 64));
      });

      it('refuses malformed rows naming the row and column', async () => {
        const rows = fraudRows(2, 3);
        rows[1]![3] = Number.NaN;
        const nan = await failure(engine.predict({ model: 'fraud', rows }));
        expect(nan.code).toBe('INVALID_ARGUMENT');
        expect(nan.message).toBe('row 1 column 3 (country_mismatch) is NaN; expected a finite number');

        const text = fraudRows(1, 4) as unknown[][];
        text[0]![0] = '12.50';
        expect((await failure(engine.predict({ model: 'fraud', rows: text as number[][] }))).message).toBe(
          'row 0 column 0 (amount) is a string; expected a finite number',
        );

        const flat = new Float32Array(30);
        flat[16] = Number.POSITIVE_INFINITY;
        expect((await failure(engine.predict({ model: 'fraud', rows: flat }))).message).toBe(
          'row 1 column 1 (hour_of_day) is Infinity; expected a finite number',
        );

        const short = await failure(engine.predict({ model: 'fraud', rows: [[1, 2, 3]] }));
        expect(short.code).toBe('INVALID_ARGUMENT');
        expect(short.message).toMatch(
          /^row 0 has 3 values; model fraud:1 expects 15 \(amount, hour_of_day, /,
        );

        const ragged = await failure(engine.predict({ model: 'fraud', rows: new Float32Array(20) }));
        expect(ragged.message).toContain('not a whole number of rows of 15');

        expect((await failure(engine.predict({ model: 'fraud', rows: [] }))).code).toBe('INVALID_ARGUMENT');
        const huge = await failure(engine.predict({ model: 'fraud', rows: fraudRows(65, 5) }));
        expect(huge.code).toBe('INVALID_ARGUMENT');
        expect(huge.message).toBe('request has 65 rows; model fraud:1 takes at most 64 rows per request');
      });

      it('answers NOT_FOUND naming an unknown model or version', async () => {
        const model = await failure(engine.predict({ model: 'fruad', rows: fraudRows(1, 6) }));
        expect(model.code).toBe('NOT_FOUND');
        expect(model.message).toContain("'fruad'");
        const version = await failure(engine.predict({ model: 'fraud', version: 3, rows: fraudRows(1, 6) }));
        expect(version.code).toBe('NOT_FOUND');
        expect(version.message).toBe("model 'fraud' has no version 3 (served versions: 1)");
      });

      it('refuses a request whose deadline already passed', async () => {
        const late = await failure(
          engine.predict({ model: 'fraud', rows: fraudRows(1, 7), deadlineMs: Date.now() - 1 }),
        );
        expect(late.code).toBe('DEADLINE_EXCEEDED');
      });

      it('counts requests, rows and executions in the Triton-like metrics', async () => {
        const value = async (name: string, labels: Record<string, string>, sampleName = name) => {
          const metric = await getRegistry().getSingleMetric(name)!.get();
          const sample = metric.values.find(
            (v) =>
              ((v as { metricName?: string }).metricName ?? name) === sampleName &&
              Object.entries(labels).every(([k, l]) => (v.labels as Record<string, string>)[k] === l),
          );
          return sample?.value ?? 0;
        };
        const labels = { model: 'fraud', version: '1' };
        const succeeded = () => value('inference_requests_total', { ...labels, outcome: 'success' });
        const timed = () =>
          value('inference_request_duration_seconds', labels, 'inference_request_duration_seconds_count');
        const [succeededBefore, timedBefore] = [await succeeded(), await timed()];
        await engine.predict({ model: 'fraud', rows: fraudRows(5, 8) });
        expect(await succeeded()).toBe(succeededBefore + 1);
        expect(await timed()).toBe(timedBefore + 1);
        expect(
          await value('inference_requests_total', { ...labels, outcome: 'invalid_argument' }),
        ).toBeGreaterThan(0);
        expect(
          await value('inference_requests_total', { model: '_unknown', outcome: 'not_found' }),
        ).toBeGreaterThan(0);
        const rows = await value('inference_rows_total', labels);
        const executions = await value('inference_executions_total', labels);
        expect(rows).toBe(engine.stats().models[0]!.rows);
        expect(executions).toBe(engine.stats().models[0]!.executions);
        expect(await value('inference_cost_model_fixed_seconds', labels)).toBeGreaterThan(0);
      });
    });
  });

  describe('with a user model that has no model.json', () => {
    const engine = new InferenceEngine();
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'regatta-engine-'));
      // Two inputs fed from one row ([a0, a1 | b]) and three outputs, one of them int64 and rank 1.
      const onnx = buildOnnxModel({
        graphName: 'mix',
        inputs: [
          { name: 'a', shape: ['n', 2] },
          { name: 'b', shape: ['n', 1] },
        ],
        outputs: [
          { name: 'y', shape: ['n', 1] },
          { name: 'doubled', shape: ['n', 2] },
          { name: 'argmax', type: 'int64', shape: ['n'] },
        ],
        initializers: [{ name: 'w', dims: [2, 1], data: Float32Array.of(1, 10) }],
        nodes: [
          { op: 'MatMul', inputs: ['a', 'w'], outputs: ['t'] },
          { op: 'Add', inputs: ['t', 'b'], outputs: ['y'] },
          { op: 'Add', inputs: ['a', 'a'], outputs: ['doubled'] },
          { op: 'ArgMax', inputs: ['doubled'], outputs: ['argmax'], attributes: { axis: 1, keepdims: 0 } },
        ],
      });
      await mkdir(path.join(dir, 'mix', '1'), { recursive: true });
      await writeFile(path.join(dir, 'mix', '1', 'model.onnx'), onnx);
      await engine.start({ modelRepository: dir, workers: 1 });
    });
    afterAll(async () => {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('splits each row across the inputs and returns every output per row', async () => {
      const result = await engine.predict({
        model: 'mix',
        rows: [
          [1, 2, 3],
          [5, -1, 0.5],
        ],
      });
      expect(result.outputs).toEqual({
        y: [[24], [-4.5]],
        doubled: [
          [2, 4],
          [10, -2],
        ],
        argmax: [[1], [0]],
      });
      expect(engine.models()[0]).toMatchObject({ metadataSource: 'graph', featureCount: 3, versions: [1] });
    });
  });

  describe('when a worker dies', () => {
    it('fails only the batch it was running, replaces the worker and keeps serving', async () => {
      const engine = new InferenceEngine();
      await engine.start({ modelRepository: MODELS, workers: 1, workerScript: CRASHING_WORKER });
      try {
        const poison = fraudRows(1, 9);
        poison[0]![0] = -7777;
        const crashed = await failure(engine.predict({ model: 'fraud', rows: poison }));
        expect(crashed.code).toBe('UNAVAILABLE');
        expect(crashed.message).toContain('exited');

        // Queued until the replacement has loaded and warmed up, then served.
        const after = await engine.predict({ model: 'fraud', rows: fraudRows(2, 10) });
        expect(after.outputs.score).toHaveLength(2);
        expect(engine.stats().workers).toMatchObject({ restarts: 1, live: 1 });
      } finally {
        await engine.close();
      }
    });
  });

  describe('close', () => {
    it('finishes requests already accepted, then refuses new ones and stops the workers', async () => {
      const engine = new InferenceEngine();
      await engine.start({ modelRepository: MODELS, workers: 1 });
      const inFlight = Array.from({ length: 20 }, (_, i) =>
        engine.predict({ model: 'fraud', rows: fraudRows(3, i) }),
      );
      const closed = engine.close();
      const refused = await failure(engine.predict({ model: 'fraud', rows: fraudRows(1, 99) }));
      expect(refused.code).toBe('UNAVAILABLE');
      const results = await Promise.all(inFlight);
      expect(results.every((r) => r.outputs.score!.length === 3)).toBe(true);
      await closed;
      expect(engine.ready).toBe(false);
      expect(engine.stats().workers!.live).toBe(0);
    });
  });

  describe('start', () => {
    it('fails with the repository problems when a model is inconsistent', async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'regatta-engine-bad-'));
      try {
        await cp(path.join(MODELS, 'fraud'), path.join(dir, 'fraud'), { recursive: true });
        await writeFile(
          path.join(dir, 'fraud', '1', 'model.json'),
          JSON.stringify({
            name: 'fraud',
            version: 1,
            inputs: [{ name: 'x', shape: [-1, 15], datatype: 'FP32' }],
            outputs: [],
          }),
        );
        const engine = new InferenceEngine();
        const request: PredictRequest = { model: 'fraud', rows: fraudRows(1, 1) };
        await expect(engine.start({ modelRepository: dir, workers: 1 })).rejects.toThrow(
          /fraud\/1: model\.json is invalid/,
        );
        expect((await failure(engine.predict(request))).code).toBe('UNAVAILABLE');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
