import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FeatureRepo, MemoryOnlineStore } from '@regatta/feast';
import { configureLogging } from '@regatta/telemetry';
import { type FastifyInstance } from 'fastify';
import { FeaturesService } from '../features.service.js';
import { type TestRepo, createTestRepo } from '../testing/test-repo.js';
import { buildFeastHttpApp } from './server.js';

// Expected warnings (a taken port, a missing registry) stay out of the test output.
configureLogging({ level: 'silent' });

const NOW = Date.parse('2024-06-01T12:00:00Z');
const HOUR = 3_600_000;

describe(buildFeastHttpApp.name, () => {
  let testRepo: TestRepo;
  let store: MemoryOnlineStore;
  let repo: FeatureRepo;
  let app: FastifyInstance;

  let base = '';

  // Real requests over loopback (Fastify's inject needs CommonJS-only modules under jest's ESM mode).
  const get = async (url: string) => {
    const res = await fetch(`${base}${url}`);
    return { status: res.status, text: await res.text() };
  };
  const post = async (url: string, body: unknown) => {
    const res = await fetch(`${base}${url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
  };

  beforeAll(async () => {
    testRepo = createTestRepo({ project: 'unit_http' });
    store = new MemoryOnlineStore();
    repo = await FeatureRepo.open(testRepo.dir, { store, now: () => NOW });
    await repo.writer.writeToOnlineStore('customer_stats', {
      customer_id: ['c1'],
      txn_count_1h: [3],
      avg_amount_30d: [42.5],
      tags: [['new']],
      event_timestamp: [new Date(NOW - HOUR).toISOString()],
    });
    app = buildFeastHttpApp({ features: new FeaturesService(repo, { now: () => NOW }) });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    base = address;
  });

  afterAll(async () => {
    await app.close();
    await repo.close();
    testRepo.remove();
  });

  describe('POST /get-online-features', () => {
    it("answers with Feast's column-major JSON, byte for byte", async () => {
      const res = await post('/get-online-features', {
        features: ['customer_stats:txn_count_1h', 'customer_stats:avg_amount_30d'],
        entities: { customer_id: ['c1', 'c2'] },
      });
      expect(res.status).toBe(200);
      expect(res.type).toBe('application/json');
      expect(res.text).toBe(
        '{"metadata":{"feature_names":["customer_id","txn_count_1h","avg_amount_30d"]},"results":[' +
          '{"values":["c1","c2"],"statuses":["PRESENT","PRESENT"],"event_timestamps":["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"]},' +
          '{"values":[3,null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2024-06-01T11:00:00Z","1970-01-01T00:00:00Z"]},' +
          '{"values":[42.5,null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2024-06-01T11:00:00Z","1970-01-01T00:00:00Z"]}]}',
      );
    });

    it('serves a feature service (which wins over features, as in Feast) with full feature names', async () => {
      const res = await post('/get-online-features', {
        feature_service: 'fraud_features',
        features: null,
        entities: { customer_id: ['c1'], merchant_id: ['m9'], request_only: [{ any: 'thing' }] },
        full_feature_names: true,
      });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text)).toEqual({
        metadata: {
          feature_names: [
            'customer_id',
            'merchant_id',
            'customer_stats__txn_count_1h',
            'customer_stats__avg_amount_30d',
            'customer_stats__tags',
            'merchant_risk__fraud_rate',
          ],
        },
        results: [
          { values: ['c1'], statuses: ['PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z'] },
          { values: ['m9'], statuses: ['PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z'] },
          { values: [3], statuses: ['PRESENT'], event_timestamps: ['2024-06-01T11:00:00Z'] },
          { values: [42.5], statuses: ['PRESENT'], event_timestamps: ['2024-06-01T11:00:00Z'] },
          { values: [['new']], statuses: ['PRESENT'], event_timestamps: ['2024-06-01T11:00:00Z'] },
          { values: [null], statuses: ['NOT_FOUND'], event_timestamps: ['1970-01-01T00:00:00Z'] },
        ],
      });
    });

    it("is 404 with Feast's error detail naming an unknown feature view", async () => {
      const res = await post('/get-online-features', {
        features: ['nope:x'],
        entities: { customer_id: ['c1'] },
      });
      expect(res.status).toBe(404);
      expect(res.text).toBe(
        '"{\\"module\\": \\"feast.errors\\", \\"class\\": \\"FeatureViewNotFoundException\\", ' +
          '\\"message\\": \\"feature view nope not found in project unit_http\\"}"',
      );
    });

    it('is 404 naming an unknown feature service', async () => {
      const res = await post('/get-online-features', {
        feature_service: 'nope',
        entities: { customer_id: ['c1'] },
      });
      expect(res.status).toBe(404);
      expect(JSON.parse(JSON.parse(res.text) as string)).toEqual({
        module: 'feast.errors',
        class: 'FeatureServiceNotFoundException',
        message: 'feature service nope not found in project unit_http',
      });
    });

    it('is 400 naming the join key when an entity value has the wrong type', async () => {
      const res = await post('/get-online-features', {
        features: ['driver_stats:trips'],
        entities: { driver_id: ['abc'] },
      });
      expect(res.status).toBe(400);
      expect(JSON.parse(JSON.parse(res.text) as string)).toEqual({
        module: 'feast.errors',
        class: 'FeastError',
        message: 'entity driver_id: expected a 64-bit integer, got "abc"',
      });
    });

    it("is 422 with FastAPI's detail when a field is missing", async () => {
      const res = await post('/get-online-features', { features: ['customer_stats:txn_count_1h'] });
      expect(res.status).toBe(422);
      expect(JSON.parse(res.text)).toEqual({
        detail: [
          {
            type: 'missing',
            loc: ['body', 'entities'],
            msg: 'Field required',
            input: { features: ['customer_stats:txn_count_1h'] },
          },
        ],
      });
    });

    it('is 422 naming the field of the wrong type', async () => {
      const res = await post('/get-online-features', {
        features: 'customer_stats:txn_count_1h',
        entities: { customer_id: 'c1' },
      });
      expect(res.status).toBe(422);
      expect(JSON.parse(res.text)).toEqual({
        detail: [
          {
            type: 'list_type',
            loc: ['body', 'entities', 'customer_id'],
            msg: 'Input should be a valid list',
            input: 'c1',
          },
          {
            type: 'list_type',
            loc: ['body', 'features'],
            msg: 'Input should be a valid list',
            input: 'customer_stats:txn_count_1h',
          },
        ],
      });
    });

    it('is 422 when neither features nor a feature service is given', async () => {
      const res = await post('/get-online-features', { entities: { customer_id: ['c1'] } });
      expect(res.status).toBe(422);
      expect(JSON.parse(res.text)).toEqual({
        detail: [
          {
            type: 'value_error',
            loc: ['body'],
            msg: 'Value error, give features (view:feature refs) or feature_service',
            input: { entities: { customer_id: ['c1'] } },
          },
        ],
      });
    });

    it('is 422 with the parser error for a body that is not JSON', async () => {
      const res = await post('/get-online-features', '{"features": [');
      expect(res.status).toBe(422);
      const body = JSON.parse(res.text) as {
        detail: { type: string; loc: unknown[]; msg: string; ctx: { error: string } }[];
      };
      expect(body.detail[0]).toMatchObject({
        type: 'json_invalid',
        loc: ['body', 14],
        msg: 'JSON decode error',
      });
      expect(body.detail[0]!.ctx.error).toMatch(/JSON/);
    });

    it('is 422 for an empty body', async () => {
      const res = await post('/get-online-features', '');
      expect(res.status).toBe(422);
      expect(JSON.parse(res.text)).toEqual({
        detail: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }],
      });
    });
  });

  describe('writes', () => {
    it('POST /push stores rows that are then read back, answering null', async () => {
      const res = await post('/push', {
        push_source_name: 'customer_push',
        df: {
          customer_id: ['c5'],
          txn_count_1h: [11],
          avg_amount_30d: [5.5],
          tags: [['pushed']],
          event_timestamp: ['2024-06-01T11:59:00Z'],
        },
        to: 'online',
      });
      expect([res.status, res.text]).toEqual([200, 'null']);
      const read = await post('/get-online-features', {
        features: ['customer_stats:tags'],
        entities: { customer_id: ['c5'] },
      });
      expect(JSON.parse(read.text)).toMatchObject({
        results: [
          {},
          { values: [['pushed']], statuses: ['PRESENT'], event_timestamps: ['2024-06-01T11:59:00Z'] },
        ],
      });
    });

    it('POST /write-to-online-store never replaces a newer value with an older one', async () => {
      const write = (count: number, ts: string) =>
        post('/write-to-online-store', {
          feature_view_name: 'customer_stats',
          df: {
            customer_id: ['c6'],
            txn_count_1h: [count],
            avg_amount_30d: [1],
            tags: [[]],
            event_timestamp: [ts],
          },
        });
      expect((await write(7, '2024-06-01T11:00:00Z')).status).toBe(200);
      expect((await write(1, '2024-06-01T10:00:00Z')).status).toBe(200);
      const read = await post('/get-online-features', {
        features: ['customer_stats:txn_count_1h'],
        entities: { customer_id: ['c6'] },
      });
      expect(JSON.parse(read.text)).toMatchObject({
        results: [{}, { values: [7], event_timestamps: ['2024-06-01T11:00:00Z'] }],
      });
    });

    it('POST /push to the offline store is 400 (Regatta has none) and an unknown `to` is 422', async () => {
      const df = { customer_id: ['c1'] };
      expect((await post('/push', { push_source_name: 'customer_push', df, to: 'offline' })).status).toBe(
        400,
      );
      const res = await post('/push', { push_source_name: 'customer_push', df, to: 'nowhere' });
      expect(res.status).toBe(422);
      expect(JSON.parse(res.text)).toMatchObject({
        detail: [
          {
            type: 'literal_error',
            loc: ['body', 'to'],
            msg: "Input should be 'online', 'offline' or 'online_and_offline'",
          },
        ],
      });
    });

    it('POST /write-to-online-store is 404 naming an unknown view', async () => {
      const res = await post('/write-to-online-store', { feature_view_name: 'nope', df: {} });
      expect(res.status).toBe(404);
      expect(res.text).toContain('feature view nope');
    });

    it('POST /materialize loads the window of a view from its batch source', async () => {
      const res = await post('/materialize', {
        start_ts: '2023-12-31T00:00:00Z',
        end_ts: '2024-01-02T00:00:00',
        feature_views: ['customer_stats'],
      });
      expect([res.status, res.text]).toEqual([200, 'null']);
      const read = await post('/get-online-features', {
        features: ['customer_stats:avg_amount_30d'],
        entities: { customer_id: ['c2'] },
      });
      // The CSV rows are from 2024-01-01: loaded, and served as too old for the 2-day TTL.
      expect(JSON.parse(read.text)).toMatchObject({
        results: [
          {},
          { values: [7.25], statuses: ['OUTSIDE_MAX_AGE'], event_timestamps: ['2024-01-01T00:00:00Z'] },
        ],
      });
    });
  });

  describe('GET /health', () => {
    it('is 200 while registry and store are fine, 503 naming the store when it is down', async () => {
      const ok = await get('/health');
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.text)).toMatchObject({
        status: 'ok',
        checks: { registry: { status: 'ok' }, online_store: { status: 'ok' } },
      });
      store.down = true;
      try {
        const down = await get('/health');
        expect(down.status).toBe(503);
        expect(JSON.parse(down.text)).toMatchObject({
          status: 'down',
          checks: { online_store: { status: 'down' } },
        });
        const read = await post('/get-online-features', {
          features: ['customer_stats:tags'],
          entities: { customer_id: ['c1'] },
        });
        expect(read.status).toBe(503);
      } finally {
        store.down = false;
      }
    });
  });

  it('answers unknown routes 404 as FastAPI does', async () => {
    const res = await get('/nope');
    expect([res.status, res.text]).toEqual([404, '{"detail":"Not Found"}']);
  });

  it('answers a known route asked with another method 405 with the method it takes, as FastAPI does', async () => {
    const read = await fetch(`${base}/get-online-features?x=1`);
    expect([read.status, await read.text(), read.headers.get('allow')]).toEqual([
      405,
      '{"detail":"Method Not Allowed"}',
      'POST',
    ]);
    const health = await post('/health', {});
    expect([health.status, health.text]).toEqual([405, '{"detail":"Method Not Allowed"}']);
  });
});

describe('Feast HTTP API without a registry', () => {
  it('answers /health 503 and reads 503 until the registry file can be read', async () => {
    const testRepo = createTestRepo({ project: 'unit_noregistry' });
    rmSync(path.join(testRepo.dir, 'data/registry.db'));
    const repo = await FeatureRepo.open(testRepo.dir, { store: new MemoryOnlineStore() });
    const app = buildFeastHttpApp({ features: new FeaturesService(repo) });
    try {
      const base = await app.listen({ port: 0, host: '127.0.0.1' });
      const health = await fetch(`${base}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'down', checks: { registry: { status: 'down' } } });
      const read = await fetch(`${base}/get-online-features`, {
        method: 'POST',
        body: JSON.stringify({ features: ['customer_stats:tags'], entities: { customer_id: ['c1'] } }),
      });
      expect(read.status).toBe(503);
      expect(await read.text()).toContain('feature registry not loaded');
    } finally {
      await app.close();
      await repo.close();
      testRepo.remove();
    }
  });
});
