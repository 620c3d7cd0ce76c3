import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type Contract,
  FEATURES,
  type GetFeaturesReply,
  INFERENCE,
  LLM,
  type ModelsReply,
  RegattaError,
  type ReplyOf,
  type RequestOf,
} from '@regatta/contracts';
import { type SqlClient, openPglite } from '@regatta/db';
import { type RequestOptions, runWithScope } from '@regatta/transport';
import { DecisionLog } from './decision-log.js';
import { DecisionsService, type ServiceCaller } from './decisions.service.js';
import { type FlowSpec, parseFlow } from './flow.js';

const flowsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../flows');
const fraud = parseFlow(readFileSync(path.join(flowsDir, 'fraud.yaml'), 'utf8'), 'fraud.yaml');
const FEATURE_ORDER = Object.keys(fraud.inputs).reverse(); // any order: the model's order must be used

const models: ModelsReply = {
  models: [
    {
      name: 'fraud',
      default_version: '1',
      versions: [
        {
          version: '1',
          ready: true,
          platform: 'onnxruntime_onnx',
          feature_count: 15,
          max_batch_rows: 256,
          inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 15], features: FEATURE_ORDER }],
          outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
          thresholds: { review: 0.1, decline: 0.7 },
        },
      ],
    },
  ],
};

const features: GetFeaturesReply = {
  metadata: {
    feature_names: [
      'customer_id',
      'merchant_id',
      'customer_stats__avg_amount_30d',
      'customer_stats__chargeback_count_90d',
    ],
  },
  results: [
    { values: ['c1'], statuses: ['PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z'] },
    { values: ['m1'], statuses: ['PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z'] },
    { values: [50], statuses: ['PRESENT'], event_timestamps: ['2026-11-27T00:00:00Z'] },
    { values: [2], statuses: ['PRESENT'], event_timestamps: ['2026-11-27T00:00:00Z'] },
  ],
};

/** A fake of the three services: each answer or failure is set per test. */
class FakeServices implements ServiceCaller {
  featureError: RegattaError | undefined;
  llmError: RegattaError | undefined;
  score = 0.3;
  readonly calls: { subject: string; data: unknown; opts?: RequestOptions }[] = [];

  request<C extends Contract>(c: C, data: RequestOf<C>, opts?: RequestOptions): Promise<ReplyOf<C>> {
    this.calls.push({ subject: c.subject, data, ...(opts && { opts }) });
    const answer = (): unknown => {
      switch (c.subject) {
        case FEATURES.get.subject:
          if (this.featureError) throw this.featureError;
          return features;
        case INFERENCE.models.subject:
          return models;
        case INFERENCE.predict.subject:
          return { model: 'fraud', version: '1', outputs: { score: [[this.score]] }, cache_hits: 0 };
        case LLM.chat.subject:
          if (this.llmError) throw this.llmError;
          return {
            meta: {},
            completion: { choices: [{ message: { role: 'assistant', content: 'Looks unusual.' } }] },
          };
        default:
          throw new RegattaError('UNAVAILABLE', `no fake for ${c.subject}`);
      }
    };
    return Promise.resolve().then(() => answer() as ReplyOf<C>);
  }
}

describe(DecisionsService.name, () => {
  let sql: SqlClient;
  let log: DecisionLog;
  const spoolDir = mkdtempSync(path.join(tmpdir(), 'decisions-spool-'));
  const make = (services: FakeServices, flow: FlowSpec = fraud) =>
    new DecisionsService(new Map([[flow.name, flow]]), services, log);
  const body = {
    flow: 'fraud',
    entities: { customer_id: 'c1', merchant_id: 'm1' },
    context: { amount: 200, new_device: true },
  };

  // PGlite compiles and boots Postgres in WebAssembly: seconds on a busy machine, so the hook gets the
  // integration timeout.
  beforeAll(async () => {
    sql = await openPglite({ dataDir: 'memory://' });
    log = await DecisionLog.open(sql, { flushIntervalMs: 10, spoolDir });
  }, 60_000);
  afterAll(async () => {
    await log.close();
    await sql.close();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  describe('decide', () => {
    it('scores the model row in the model feature order and explains a review', async () => {
      const services = new FakeServices();
      const decision = await make(services).decide('acme', body);
      expect(decision).toMatchObject({
        flow: 'fraud',
        outcome: 'review',
        score: 0.3,
        model: 'fraud',
        model_version: '1',
        explanation: 'Looks unusual.',
      });
      expect(decision.reasons).toEqual([
        'score 0.300 is at or above the review threshold 0.1',
        "amount is more than 3x the customer's 30-day average",
        'payment from a device not seen before',
        'customer had a chargeback in the last 90 days',
        'account is less than 30 days old',
      ]);
      expect(decision.degraded).toBeUndefined();
      const predict = services.calls.find((c) => c.subject === INFERENCE.predict.subject)!.data as {
        rows: number[][];
      };
      expect(predict.rows[0]![FEATURE_ORDER.indexOf('amount')]).toBe(200);
      expect(predict.rows[0]![FEATURE_ORDER.indexOf('avg_amount_30d')]).toBe(50);
      expect(predict.rows[0]![FEATURE_ORDER.indexOf('new_device')]).toBe(1);
    });

    it('approves without calling the LLM when the flow explains only reviews', async () => {
      const services = new FakeServices();
      services.score = 0.01;
      const decision = await make(services).decide('acme', body);
      expect(decision.outcome).toBe('approve');
      expect(decision.explanation).toBeUndefined();
      expect(services.calls.map((c) => c.subject)).not.toContain(LLM.chat.subject);
    });

    it('decides with defaults, flagged degraded, when features are unavailable', async () => {
      const services = new FakeServices();
      services.featureError = new RegattaError('UNAVAILABLE', 'no service answers features.get.v1');
      const decision = await make(services).decide('acme', body);
      expect(decision.degraded).toEqual(['features: defaults used (UNAVAILABLE)']);
      expect(decision.outcome).toBe('review');
    });

    it('answers 503 UNAVAILABLE when the flow refuses to decide without features', async () => {
      const services = new FakeServices();
      services.featureError = new RegattaError('DEADLINE_EXCEEDED', 'slow');
      const strict = { ...fraud, on_features_unavailable: 'fail' as const };
      await expect(make(services, strict).decide('acme', body)).rejects.toMatchObject({
        code: 'UNAVAILABLE',
      });
    });

    it('passes on a feature error that is the request own fault', async () => {
      const services = new FakeServices();
      services.featureError = new RegattaError('INVALID_ARGUMENT', 'customer_id must be a string');
      await expect(make(services).decide('acme', body)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('returns the decision without explanation when the LLM fails', async () => {
      const services = new FakeServices();
      services.llmError = new RegattaError('RESOURCE_EXHAUSTED', 'budget spent');
      const decision = await make(services).decide('acme', body);
      expect(decision.explanation).toBeUndefined();
      expect(decision.degraded).toEqual(['explanation: unavailable (RESOURCE_EXHAUSTED)']);
    });

    it('names an unknown flow', async () => {
      await expect(make(new FakeServices()).decide('acme', { ...body, flow: 'loans' })).rejects.toMatchObject(
        {
          code: 'NOT_FOUND',
          message: 'no flow "loans" (flows: fraud)',
        },
      );
    });

    it('rejects bad input before calling any service', async () => {
      const services = new FakeServices();
      await expect(make(services).decide('acme', { ...body, context: {} })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      expect(services.calls).toEqual([]);
    });

    it('gives the feature read and the explanation their shares of the remaining budget', async () => {
      const services = new FakeServices();
      services.score = 0.5; // a review, which the fraud flow explains
      const deadline = Date.now() + 1_000;
      await runWithScope({ deadline }, () => make(services).decide('acme', body));
      const timeoutOf = (subject: string) =>
        services.calls.find((c) => c.subject === subject)?.opts?.timeoutMs;
      expect(fraud.features_budget_share).toBe(0.5);
      expect(timeoutOf(FEATURES.get.subject)).toBeGreaterThan(400);
      expect(timeoutOf(FEATURES.get.subject)).toBeLessThanOrEqual(500);
      expect(timeoutOf(LLM.chat.subject)).toBeGreaterThan(0);
      expect(timeoutOf(LLM.chat.subject)).toBeLessThanOrEqual(Math.ceil(fraud.explain!.budget_share * 1_000));
      // Outside a request there is no budget to share: the caller's default timeout applies.
      const outside = new FakeServices();
      await make(outside).decide('acme', body);
      expect(outside.calls.find((c) => c.subject === FEATURES.get.subject)?.opts).toEqual({});
    });

    it('answers INVALID_ARGUMENT, not an internal error, for a request outside the contract', async () => {
      const services = new FakeServices();
      const outside = { ...body, context: { ...body.context, amount: Number.POSITIVE_INFINITY } };
      await expect(make(services).decide('acme', outside)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/^invalid decision request: context\.amount: /),
      });
      expect(services.calls).toEqual([]);
    });
  });

  describe('get', () => {
    it('reads a decision back for its own tenant only', async () => {
      const service = make(new FakeServices());
      const decision = await service.decide('acme', body);
      const stored = await service.get('acme', decision.decision_id);
      expect(stored).toMatchObject({
        decision_id: decision.decision_id,
        outcome: 'review',
        reasons: decision.reasons,
        degraded: [],
      });
      expect(stored.inputs_hash).toMatch(/^[0-9a-f]{64}$/);
      await expect(service.get('globex', decision.decision_id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(service.get('acme', 'not-a-uuid')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('reads from the database once the row is written', async () => {
      const service = make(new FakeServices());
      const decision = await service.decide('acme', body);
      await log.close(); // flushes every accepted row
      log = await DecisionLog.open(sql, { flushIntervalMs: 10, spoolDir }); // a fresh log has no recent rows in memory
      const stored = await new DecisionsService(new Map([['fraud', fraud]]), new FakeServices(), log).get(
        'acme',
        decision.decision_id,
      );
      expect(stored.explanation).toBe('Looks unusual.');
    });
  });
});
