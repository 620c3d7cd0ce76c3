import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getFeatureCache } from '@regatta/cache';
import { loadConfig } from '@regatta/config';
import { HEALTH, INFERENCE, type PredictReply, RegattaError } from '@regatta/contracts';
import { PrivateServer } from '@regatta/testing';
import { NatsBus, RpcClient, decodeError, encodeJson } from '@regatta/transport';
import { buildOnnxModel } from '../training/onnx-builder.js';
import { inferenceEnv } from './config.js';
import { type RunningInference, createInferenceService } from './service.js';
import { failure, fraudRows } from './testing/fixtures.js';

const MODELS = fileURLToPath(new URL('../models', import.meta.url));

/** The float64 bit patterns of every output value, so equality below means bit for bit. */
function bits(replies: PredictReply[]): string[] {
  return replies.map((r) => Buffer.from(Float64Array.from(r.outputs.score!.flat()).buffer).toString('hex'));
}

describe('inference service over real NATS and Redis', () => {
  let nats: PrivateServer;
  let redis: PrivateServer;
  let bus: NatsBus;
  let client: RpcClient;
  let repo: string;

  const start = (env: Record<string, string> = {}): Promise<RunningInference> =>
    createInferenceService({
      bus,
      config: loadConfig(inferenceEnv, {
        MODEL_REPOSITORY: repo,
        INFERENCE_WORKERS: '1',
        REDIS_URL: redis.url,
        LOG_LEVEL: 'warn',
        ...env,
      }),
    });

  beforeAll(async () => {
    [nats, redis] = await Promise.all([PrivateServer.start('nats'), PrivateServer.start('redis')]);
    bus = await NatsBus.connect({ url: nats.url, name: 'inference-int-spec' });
    client = new RpcClient({ bus, defaultTimeoutMs: 10_000 });
    // The demo model plus a user model dropped in with no model.json: inputs [n, 2] and [n], output [n].
    repo = await mkdtemp(path.join(os.tmpdir(), 'regatta-inference-'));
    await cp(path.join(MODELS, 'fraud'), path.join(repo, 'fraud'), { recursive: true });
    await mkdir(path.join(repo, 'mix', '1'), { recursive: true });
    await writeFile(
      path.join(repo, 'mix', '1', 'model.onnx'),
      buildOnnxModel({
        graphName: 'mix',
        inputs: [
          { name: 'a', shape: ['n', 2] },
          { name: 'b', shape: ['n'] },
        ],
        outputs: [{ name: 'y', shape: ['n'] }],
        initializers: [{ name: 'w', dims: [2], data: Float32Array.of(1, 10) }],
        nodes: [
          { op: 'MatMul', inputs: ['a', 'w'], outputs: ['t'] },
          { op: 'Add', inputs: ['t', 'b'], outputs: ['y'] },
        ],
      }),
    );
  }, 30_000);

  afterAll(async () => {
    await bus?.close();
    await Promise.all([nats?.kill(), redis?.kill()]);
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  describe('batching', () => {
    it('gives the same predictions bit for bit batched and unbatched', async () => {
      const rows = fraudRows(300, 11);
      const scoreAll = async (env: Record<string, string>) => {
        const service = await start(env);
        try {
          // All requests at once, one row each: the batched service must form batches from them.
          const replies = await Promise.all(
            rows.map((row) =>
              client.request(INFERENCE.predict, { model: 'fraud', rows: [row], cache: false }),
            ),
          );
          const [stats] = service.engine.stats().models;
          return { replies, stats: stats! };
        } finally {
          await service.close();
        }
      };
      const unbatched = await scoreAll({ INFERENCE_MAX_BATCH_ROWS: '1' });
      const batched = await scoreAll({ INFERENCE_MAX_BATCH_ROWS: '256' });

      expect(unbatched.stats.executions).toBe(rows.length);
      expect(batched.stats.executions).toBeLessThan(rows.length);
      expect(batched.stats.meanBatchRows).toBeGreaterThan(1);
      expect(bits(batched.replies)).toEqual(bits(unbatched.replies));
      for (const r of batched.replies) {
        expect(r.output_tensors).toEqual([{ name: 'score', datatype: 'FP32', shape: [1, 1] }]);
        expect(r.outputs.score![0]![0]).toBeGreaterThan(0);
        expect(r.outputs.score![0]![0]).toBeLessThan(1);
      }
    }, 60_000);
  });

  describe('close', () => {
    it('answers every request already accepted, then stops the workers', async () => {
      // A long wait window holds the requests in the batcher, so close() begins with all of them queued.
      const service = await start({ INFERENCE_MAX_WAIT_MS: '2000' });
      const rows = fraudRows(50, 3);
      const replies = rows.map((row) =>
        client.request(INFERENCE.predict, { model: 'fraud', rows: [row], cache: false }),
      );
      const deadline = Date.now() + 5_000;
      while (service.engine.stats().models[0]!.queuedRequests < rows.length && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      expect(service.engine.stats().models[0]!.queuedRequests).toBe(rows.length);

      await service.close();
      const settled = await Promise.allSettled(replies);
      expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(rows.length);
      expect(service.engine.ready).toBe(false);
      expect(service.engine.stats().workers?.live).toBe(0);
    }, 30_000);
  });

  describe('with the service running', () => {
    let service: RunningInference;

    beforeAll(async () => {
      service = await start();
      // Ready does not wait for Redis (it is an accelerator); these tests want it connected.
      const deadline = Date.now() + 5_000;
      while ((await service.health.report()).checks.redis?.status !== 'ok' && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
    }, 30_000);
    afterAll(() => service?.close());

    it('is ready only once every model is warm, and reports each dependency', async () => {
      const report = await client.request(HEALTH.inference, {});
      expect(report.ready).toBe(true);
      expect(report.checks).toMatchObject({
        nats: { status: 'ok' },
        redis: { status: 'ok' },
        models: { status: 'ok', detail: 'fraud:1, mix:1' },
        workers: { status: 'ok', detail: '1 of 1 live, 0 busy, 0 restarts' },
      });
      expect(service.startReport.coldStartMs).toBeGreaterThan(0);
      for (const m of service.startReport.models) expect(m.warmupMs).toBeGreaterThan(0);
    });

    it('lists the models with their metadata and the demo model AUC', async () => {
      const { models } = await client.request(INFERENCE.models, {});
      expect(models.map((m) => m.name)).toEqual(['fraud', 'mix']);
      const fraud = models[0]!.versions[0]!;
      expect(fraud.inputs[0]!.features).toHaveLength(15);
      expect(fraud.metrics?.holdout_auc).toBeGreaterThan(0.9);
      expect(fraud.max_batch_rows).toBe(256);
      expect(models[1]!.versions[0]).toMatchObject({
        platform: 'onnxruntime_onnx',
        inputs: [
          { name: 'a', datatype: 'FP32', shape: [-1, 2] },
          { name: 'b', datatype: 'FP32', shape: [-1] },
        ],
        feature_count: 3,
      });
    });

    it('serves a user model dropped into the repository, as rows and as tensors', async () => {
      const byRows = await client.request(INFERENCE.predict, {
        model: 'mix',
        rows: [
          [1, 2, 3],
          [0, 1, -1],
        ],
      });
      expect(byRows.outputs.y).toEqual([[24], [9]]);
      const byTensors = await client.request(INFERENCE.predict, {
        model: 'mix',
        inputs: [
          { name: 'b', shape: [2], datatype: 'FP32', data: [3, -1] },
          { name: 'a', shape: [2, 2], datatype: 'FP32', data: [1, 2, 0, 1] },
        ],
      });
      expect(byTensors.outputs).toEqual(byRows.outputs);
      expect(byTensors.output_tensors).toEqual([{ name: 'y', datatype: 'FP32', shape: [2] }]);
    });

    it('answers named-feature rows like the same values in feature order', async () => {
      const { models } = await client.request(INFERENCE.models, { model: 'fraud' });
      const names = models[0]!.versions[0]!.inputs[0]!.features!;
      const [row] = fraudRows(1, 99);
      const named = Object.fromEntries(names.map((n, i): [string, number] => [n, row![i]!]).reverse());
      const a = await client.request(INFERENCE.predict, { model: 'fraud', rows: [row!], cache: false });
      const b = await client.request(INFERENCE.predict, { model: 'fraud', rows: [named], cache: false });
      expect(b.outputs).toEqual(a.outputs);
    });

    it('answers the second identical call from the cache, and from Redis once memory is gone', async () => {
      const rows = fraudRows(3, 2024);
      const first = await client.request(INFERENCE.predict, { model: 'fraud', rows });
      const second = await client.request(INFERENCE.predict, { model: 'fraud', rows });
      expect(first.cache_hits).toBe(0);
      expect(second.cache_hits).toBe(3);
      expect(second.outputs).toEqual(first.outputs);

      await getFeatureCache().flush();
      getFeatureCache().clearMemory();
      const executions = service.engine.stats().models[0]!.executions;
      const third = await client.request(INFERENCE.predict, {
        model: 'fraud',
        rows: [...rows, ...fraudRows(1, 7)],
      });
      expect(third.cache_hits).toBe(3);
      expect(third.outputs.score!.slice(0, 3)).toEqual(first.outputs.score);
      // Only the one new row ran.
      expect(service.engine.stats().models[0]!.executions).toBe(executions + 1);
    });

    it('keeps serving when Redis dies mid-test, degraded but ready', async () => {
      const before = fraudRows(2, 501);
      await client.request(INFERENCE.predict, { model: 'fraud', rows: before });
      await redis.kill();
      try {
        const fresh = fraudRows(2, 502);
        const a = await client.request(INFERENCE.predict, { model: 'fraud', rows: fresh });
        const b = await client.request(INFERENCE.predict, { model: 'fraud', rows: fresh });
        const c = await client.request(INFERENCE.predict, { model: 'fraud', rows: before });
        expect(a.cache_hits).toBe(0);
        expect(b.cache_hits).toBe(2);
        expect(c.cache_hits).toBe(2);
        const report = await client.request(HEALTH.inference, {});
        expect(report.ready).toBe(true);
        expect(report.checks.redis!.status).toBe('degraded');
      } finally {
        await redis.restart();
      }
    });

    describe('bad input', () => {
      const raw = async (data: unknown): Promise<RegattaError> => {
        const reply = await bus.request(INFERENCE.predict.subject, encodeJson(data), new Map(), 5_000);
        return decodeError(reply.data);
      };

      it.each([
        [
          'a row with the wrong number of features',
          { model: 'fraud', rows: [[1, 2, 3]] },
          'INVALID_ARGUMENT',
          'row 0 has 3 values; model fraud:1 expects 15',
        ],
        [
          'NaN (null once in JSON)',
          { model: 'fraud', rows: [[null, ...Array<number>(14).fill(0)]] },
          'INVALID_ARGUMENT',
          'rows.0: value 0: Invalid input: expected number, received null',
        ],
        [
          'a string feature',
          { model: 'fraud', rows: [{ amount: 'ten' }] },
          'INVALID_ARGUMENT',
          'rows.0: feature "amount": Invalid input: expected number, received string',
        ],
        [
          'a named row missing features',
          { model: 'fraud', rows: [{ amount: 12.5, hour_of_day: 3 }] },
          'INVALID_ARGUMENT',
          'row 0 is missing features is_online, country_mismatch',
        ],
        [
          'a named row for a model without feature names',
          { model: 'mix', rows: [{ a: 1 }] },
          'INVALID_ARGUMENT',
          'row 0 names its features, but model mix:1 has no feature names',
        ],
        [
          'an unknown model',
          { model: 'churn', rows: [[1]] },
          'NOT_FOUND',
          "model 'churn' is not served (served: fraud, mix)",
        ],
        [
          'an unknown version',
          { model: 'fraud', version: '9', rows: [[1]] },
          'NOT_FOUND',
          "model 'fraud' has no version 9 (served versions: 1)",
        ],
        [
          'a batch above the limit',
          { model: 'fraud', rows: Array.from({ length: 300 }, () => Array<number>(15).fill(0)) },
          'INVALID_ARGUMENT',
          'request has 300 rows; model fraud:1 takes at most 256 rows per request',
        ],
        [
          'an unknown field',
          { model: 'fraud', rows: [[1]], row: [1] },
          'INVALID_ARGUMENT',
          'Unrecognized key: "row"',
        ],
        [
          'neither rows nor inputs',
          { model: 'fraud' },
          'INVALID_ARGUMENT',
          'send exactly one of rows or inputs',
        ],
      ])('answers %s with a typed error that says what was wrong', async (_what, data, code, message) => {
        const err = await raw(data);
        expect(err.code).toBe(code);
        expect(err.message).toContain(message);
      });

      it('still serves after every bad request', async () => {
        const reply = await client.request(INFERENCE.predict, { model: 'fraud', rows: fraudRows(1, 5) });
        expect(reply.outputs.score).toHaveLength(1);
      });

      it('is NOT_FOUND through the client too', async () => {
        const err = await failure(client.request(INFERENCE.models, { model: 'fraud', version: 2 }));
        expect(err.code).toBe('NOT_FOUND');
      });
    });
  });
});
