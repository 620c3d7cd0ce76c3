import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  HEALTH,
  type HealthReply,
  type HttpErrorBody,
  INFERENCE,
  type ModelsReply,
  type PredictReply,
  RegattaError,
} from '@regatta/contracts';
import { InProcessBus, encodeJson, errorReply } from '@regatta/transport';
import { TEST_ADMIN_KEY, type TestGateway, startTestGateway } from '../testing/harness.js';

const MODELS: ModelsReply = {
  models: [
    {
      name: 'fraud',
      default_version: '1',
      versions: [
        {
          version: '1',
          ready: true,
          platform: 'onnxruntime_onnx',
          inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 2], features: ['amount', 'hour'] }],
          outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
        },
      ],
    },
  ],
};

/** A stand-in inference service on the bus: records requests, answers or fails as told. */
class FakeInference {
  readonly predicts: unknown[] = [];
  failWith: RegattaError | undefined;
  ready = true;

  constructor(bus: InProcessBus) {
    bus.subscribe(INFERENCE.predict.subject, 'inference', (msg) => {
      const request = JSON.parse(new TextDecoder().decode(msg.data)) as {
        rows?: number[][];
        inputs?: { shape: number[] }[];
      };
      this.predicts.push(request);
      if (this.failWith) {
        const err = errorReply(this.failWith);
        return msg.reply(err.data, err.headers);
      }
      const rows = request.rows?.length ?? request.inputs?.[0]?.shape[0] ?? 0;
      const reply: PredictReply = {
        model: 'fraud',
        version: '1',
        outputs: { score: Array.from({ length: rows }, (_, i) => [0.25 * (i + 1)]) },
        output_tensors: [{ name: 'score', datatype: 'FP32', shape: [rows, 1] }],
        cache_hits: 0,
      };
      msg.reply(encodeJson(reply), new Map());
    });
    bus.subscribe(INFERENCE.models.subject, 'inference', (msg) => {
      const { model, version } = JSON.parse(new TextDecoder().decode(msg.data)) as {
        model?: string;
        version?: string;
      };
      if ((model !== undefined && model !== 'fraud') || (version !== undefined && version !== '1')) {
        const err = errorReply(
          new RegattaError('NOT_FOUND', `model '${model}' is not served (served: fraud)`),
        );
        return msg.reply(err.data, err.headers);
      }
      msg.reply(encodeJson(MODELS), new Map());
    });
    bus.subscribe(HEALTH.inference.subject, 'inference', (msg) => {
      const health: HealthReply = {
        service: 'inference',
        instance: 'fake',
        status: 'ok',
        ready: this.ready,
        uptime_s: 1,
        version: '0',
        checks: {},
      };
      msg.reply(encodeJson(health), new Map());
    });
  }
}

describe('inference routes', () => {
  let gw: TestGateway;
  let inference: FakeInference;
  let predictKey: string;
  let chatKey: string;

  beforeAll(async () => {
    const bus = new InProcessBus();
    inference = new FakeInference(bus);
    gw = await startTestGateway({ bus });
    predictKey = (await gw.createKey({ scopes: ['predict'] })).key;
    chatKey = (await gw.createKey({ scopes: ['chat'] })).key;
  });
  afterAll(() => gw?.close());
  beforeEach(() => {
    inference.failWith = undefined;
    inference.ready = true;
  });

  describe('POST /v1/predict/{model}', () => {
    it('scores rows through inference.predict.v1', async () => {
      const res = await gw.request('/v1/predict/fraud', {
        key: predictKey,
        body: { rows: [[1, 2], { amount: 3, hour: 4 }], version: 1 },
      });
      expect(res.status).toBe(200);
      expect((res.body as PredictReply).outputs.score).toEqual([[0.25], [0.5]]);
      expect(inference.predicts.at(-1)).toEqual({
        model: 'fraud',
        version: 1,
        rows: [[1, 2], { amount: 3, hour: 4 }],
        cache: true,
      });
    });

    it('needs an API key with the predict scope', async () => {
      expect((await gw.request('/v1/predict/fraud', { body: { rows: [[1, 2]] } })).status).toBe(401);
      const denied = await gw.request('/v1/predict/fraud', { key: chatKey, body: { rows: [[1, 2]] } });
      expect(denied.status).toBe(403);
      expect((denied.body as HttpErrorBody).error.message).toContain('predict');
    });

    it('refuses a malformed body with the uniform error body', async () => {
      const res = await gw.request('/v1/predict/fraud', { key: predictKey, body: { rows: [[1, 'two']] } });
      expect(res.status).toBe(400);
      const { error } = res.body as HttpErrorBody;
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain('body.rows.0');
      const extra = await gw.request('/v1/predict/fraud', {
        key: predictKey,
        body: { rows: [[1]], model: 'x' },
      });
      expect((extra.body as HttpErrorBody).error.message).toBe('body: unknown property "model"');
    });

    it("maps the service's typed errors to their statuses", async () => {
      inference.failWith = new RegattaError('NOT_FOUND', "model 'churn' is not served (served: fraud)");
      const res = await gw.request('/v1/predict/churn', { key: predictKey, body: { rows: [[1, 2]] } });
      expect(res.status).toBe(404);
      expect((res.body as HttpErrorBody).error).toMatchObject({
        code: 'NOT_FOUND',
        message: "model 'churn' is not served (served: fraud)",
      });
    });
  });

  describe('KServe v2', () => {
    it('answers liveness and readiness without a key', async () => {
      expect(await gw.request('/v2/health/live')).toMatchObject({ status: 200, body: { live: true } });
      expect(await gw.request('/v2/health/ready')).toMatchObject({ status: 200, body: { ready: true } });
      inference.ready = false;
      expect(await gw.request('/v2/health/ready')).toMatchObject({ status: 400, body: { ready: false } });
    });

    it('describes a model and its versions', async () => {
      const res = await gw.request('/v2/models/fraud', { key: predictKey });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        name: 'fraud',
        versions: ['1'],
        platform: 'onnxruntime_onnx',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 2] }],
        outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
      });
      expect((await gw.request('/v2/models/fraud/versions/1', { key: predictKey })).status).toBe(200);
      expect(await gw.request('/v2/models/fraud/ready', { key: predictKey })).toMatchObject({
        status: 200,
        body: { name: 'fraud', ready: true },
      });
    });

    it('answers an unknown model or version with 404 and {error}', async () => {
      const model = await gw.request('/v2/models/churn', { key: predictKey });
      expect(model).toMatchObject({
        status: 404,
        body: { error: "model 'churn' is not served (served: fraud)" },
      });
      const version = await gw.request('/v2/models/fraud/versions/2/ready', { key: predictKey });
      expect(version.status).toBe(404);
      const bad = await gw.request('/v2/models/fraud/versions/latest', { key: predictKey });
      expect(bad).toMatchObject({
        status: 400,
        body: { error: 'model version "latest" is not a positive integer' },
      });
    });

    it('infers from nested JSON tensors and answers v2 output tensors', async () => {
      const res = await gw.request('/v2/models/fraud/versions/1/infer', {
        key: predictKey,
        body: {
          id: 'req-7',
          inputs: [
            {
              name: 'features',
              shape: [2, 2],
              datatype: 'FP32',
              data: [
                [1, 2],
                [3, 4],
              ],
            },
          ],
          outputs: [{ name: 'score' }],
        },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        model_name: 'fraud',
        model_version: '1',
        id: 'req-7',
        outputs: [{ name: 'score', shape: [2, 1], datatype: 'FP32', data: [0.25, 0.5] }],
      });
      expect(inference.predicts.at(-1)).toEqual({
        model: 'fraud',
        version: '1',
        inputs: [{ name: 'features', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }],
        outputs: ['score'],
      });
    });

    it('answers bad tensors with 400 and {error} saying what was wrong', async () => {
      const res = await gw.request('/v2/models/fraud/infer', {
        key: predictKey,
        body: { inputs: [{ name: 'features', shape: [1, 2], datatype: 'FP32', data: [1, null] }] },
      });
      expect(res).toMatchObject({
        status: 400,
        body: {
          error:
            "input 'features' value 1 is null (NaN and infinities are not JSON numbers); expected a number",
        },
      });
      inference.failWith = new RegattaError('INVALID_ARGUMENT', "input 'features' has shape [1, 3]");
      const shape = await gw.request('/v2/models/fraud/infer', {
        key: predictKey,
        body: { inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] },
      });
      expect(shape).toMatchObject({ status: 400, body: { error: "input 'features' has shape [1, 3]" } });
    });

    it('answers an overloaded service with 503, Retry-After and {error}', async () => {
      inference.failWith = new RegattaError('OVERLOADED', 'queue full', undefined, 2);
      const res = await gw.request('/v2/models/fraud/infer', {
        key: TEST_ADMIN_KEY,
        body: { inputs: [{ name: 'features', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] },
      });
      expect(res).toMatchObject({ status: 503, body: { error: 'queue full' } });
      expect(res.headers.get('retry-after')).toBe('2');
    });

    it('needs the predict scope for model routes', async () => {
      const res = await gw.request('/v2/models/fraud', { key: chatKey });
      expect(res.status).toBe(403);
    });
  });
});
