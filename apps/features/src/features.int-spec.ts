import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '@regatta/config';
import { FEATURES, HEALTH, type GetFeaturesReply, RegattaError } from '@regatta/contracts';
import { redisFeatureField, redisHashKey, redisTimestampField, serializeEntityKey } from '@regatta/feast';
import { PrivateServer, freePort, serviceUrls, uniqueName } from '@regatta/testing';
import { NatsBus, RpcClient } from '@regatta/transport';
import { Redis } from 'ioredis';
import { featuresEnv } from './config.js';
import { type RunningFeatures, createFeaturesService } from './service.js';
import { type TestRepo, createTestRepo } from './testing/test-repo.js';

const EPOCH = '1970-01-01T00:00:00Z';
/** A whole second a few minutes ago, as Feast prints it. */
const recent = (minutesAgo: number) =>
  new Date(Math.floor(Date.now() / 1000) * 1000 - minutesAgo * 60_000).toISOString().replace('.000Z', 'Z');

async function failure(promise: Promise<unknown>): Promise<RegattaError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegattaError);
  return err as RegattaError;
}

describe('features service over real NATS and Redis', () => {
  const { redis: redisUrl } = serviceUrls();
  let nats: PrivateServer;
  let bus: NatsBus;
  let clientBus: NatsBus;
  let rpc: RpcClient;
  let redis: Redis;
  let testRepo: TestRepo;
  let running: RunningFeatures;
  let http: string;

  const post = async (route: string, body: unknown) => {
    const res = await fetch(`${http}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  };

  beforeAll(async () => {
    nats = await PrivateServer.start('nats');
    bus = await NatsBus.connect({ url: nats.url, name: 'features-int-service' });
    clientBus = await NatsBus.connect({ url: nats.url, name: 'features-int-client' });
    rpc = new RpcClient({ bus: clientBus, defaultTimeoutMs: 10_000 });
    redis = new Redis(redisUrl, { lazyConnect: true });
    await redis.connect();
    // The repository names a local SQLite file; with REDIS_URL set the service serves the shared Redis instead.
    testRepo = createTestRepo({ project: uniqueName('feat_int') });
    const port = await freePort();
    running = await createFeaturesService({
      bus,
      config: loadConfig(featuresEnv, {
        FEAST_REPO_PATH: testRepo.dir,
        REDIS_URL: redisUrl,
        FEAST_HTTP_PORT: String(port),
        FEAST_HTTP_HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
      }),
    });
    http = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await running?.close();
    await bus?.close();
    await clientBus?.close();
    if (redis && testRepo) {
      // Every hash of the project ends with its name (Feast's key = entity key bytes + project).
      const keys = await redis.keysBuffer(`*${testRepo.project}`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
    await nats?.kill();
    testRepo?.remove();
  });

  it("materialized the batch sources into Redis on first start, in Feast's layout", async () => {
    const key = redisHashKey(
      serializeEntityKey(['customer_id'], [{ kind: 'string', value: 'c1' }], 3),
      testRepo.project,
    );
    const [count, ts] = await redis.hmgetBuffer(
      key,
      redisFeatureField('customer_stats', 'txn_count_1h'),
      redisTimestampField('customer_stats'),
    );
    // feast.types.Value{int64_val: 3}: field 4, varint.
    expect(count).toEqual(Buffer.from('2003', 'hex'));
    expect(ts).not.toBeNull();
  });

  it('answers features.get.v1 in request order with PRESENT, NOT_FOUND and OUTSIDE_MAX_AGE', async () => {
    // m2 was pushed two hours ago: its view keeps values for one hour.
    const pushed = recent(120);
    await running.features.writeToOnlineStore('merchant_risk', {
      merchant_id: ['m2'],
      fraud_rate: [0.5],
      event_timestamp: [pushed],
    });
    const reply = await rpc.request(FEATURES.get, {
      features: ['customer_stats:txn_count_1h', 'merchant_risk:fraud_rate'],
      entities: { customer_id: ['c2', 'nobody', 'c1'], merchant_id: ['m2', 'm1', 'm2'] },
    });
    expect(reply.metadata.feature_names).toEqual([
      'customer_id',
      'merchant_id',
      'txn_count_1h',
      'fraud_rate',
    ]);
    expect(reply.results[0]!.values).toEqual(['c2', 'nobody', 'c1']);
    expect(reply.results[2]).toMatchObject({
      values: [0, null, 3],
      statuses: ['PRESENT', 'NOT_FOUND', 'PRESENT'],
    });
    expect(reply.results[2]!.event_timestamps[1]).toBe(EPOCH);
    expect(reply.results[3]).toEqual({
      values: [0.5, 0.125, 0.5],
      statuses: ['OUTSIDE_MAX_AGE', 'PRESENT', 'OUTSIDE_MAX_AGE'],
      event_timestamps: [pushed, reply.results[3]!.event_timestamps[1], pushed],
    });
  });

  it('answers unknown names NOT_FOUND and entity values of the wrong type INVALID_ARGUMENT over NATS', async () => {
    const unknown = await failure(
      rpc.request(FEATURES.get, { features: ['nope:x'], entities: { customer_id: ['c1'] } }),
    );
    expect([unknown.code, unknown.message]).toEqual([
      'NOT_FOUND',
      `feature view nope not found in project ${testRepo.project}`,
    ]);
    const wrong = await failure(
      rpc.request(FEATURES.get, { features: ['driver_stats:trips'], entities: { driver_id: ['abc'] } }),
    );
    expect(wrong.code).toBe('INVALID_ARGUMENT');
    expect(wrong.message).toContain('driver_id');
  });

  it("answers POST /get-online-features with Feast's exact JSON", async () => {
    const at = recent(10);
    const push = await post('/push', {
      push_source_name: 'customer_push',
      df: {
        customer_id: ['c7'],
        txn_count_1h: [12],
        avg_amount_30d: [19.99],
        tags: [['a', 'b']],
        event_timestamp: [at],
      },
      to: 'online',
    });
    expect(push).toEqual({ status: 200, text: 'null' });
    const res = await post('/get-online-features', {
      features: ['customer_stats:txn_count_1h', 'customer_stats:tags', 'customer_stats:avg_amount_30d'],
      entities: { customer_id: ['c7', 'c8'] },
      full_feature_names: true,
    });
    expect(res.status).toBe(200);
    expect(res.text).toBe(
      '{"metadata":{"feature_names":["customer_id","customer_stats__txn_count_1h","customer_stats__tags","customer_stats__avg_amount_30d"]},' +
        '"results":[' +
        `{"values":["c7","c8"],"statuses":["PRESENT","PRESENT"],"event_timestamps":["${EPOCH}","${EPOCH}"]},` +
        `{"values":[12,null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["${at}","${EPOCH}"]},` +
        `{"values":[["a","b"],null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["${at}","${EPOCH}"]},` +
        `{"values":[19.99,null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["${at}","${EPOCH}"]}]}`,
    );
  });

  it('reads back over NATS what /write-to-online-store wrote, and keeps a newer value against an older write', async () => {
    const write = (count: number, at: string) =>
      post('/write-to-online-store', {
        feature_view_name: 'customer_stats',
        df: {
          customer_id: ['c9'],
          txn_count_1h: [count],
          avg_amount_30d: [1.5],
          tags: [[]],
          event_timestamp: [at],
        },
      });
    // One instant for the write and the check: recent() read twice can straddle a second.
    const newer = recent(5);
    expect(await write(5, newer)).toEqual({ status: 200, text: 'null' });
    expect(await write(1, recent(30))).toEqual({ status: 200, text: 'null' });
    const reply: GetFeaturesReply = await rpc.request(FEATURES.get, {
      features: ['customer_stats:txn_count_1h', 'customer_stats:tags'],
      entities: { customer_id: ['c9'] },
    });
    expect(reply.results.slice(1)).toEqual([
      { values: [5], statuses: ['PRESENT'], event_timestamps: [newer] },
      { values: [[]], statuses: ['PRESENT'], event_timestamps: [newer] },
    ]);
  });

  it('answers bad input with 404, 422 and 400 as Feast does', async () => {
    const unknownView = await post('/get-online-features', {
      features: ['nope:x'],
      entities: { customer_id: ['c1'] },
    });
    expect(unknownView).toEqual({
      status: 404,
      text: JSON.stringify(
        '{"module": "feast.errors", "class": "FeatureViewNotFoundException", ' +
          `"message": "feature view nope not found in project ${testRepo.project}"}`,
      ),
    });
    const malformed = await post(
      '/get-online-features',
      '{"entities": {"customer_id": ["c1"]}, "features": ',
    );
    expect(malformed.status).toBe(422);
    expect(JSON.parse(malformed.text)).toMatchObject({
      detail: [{ type: 'json_invalid', msg: 'JSON decode error' }],
    });
    const missing = await post('/push', { df: {} });
    expect(JSON.parse(missing.text)).toEqual({
      detail: [
        { type: 'missing', loc: ['body', 'push_source_name'], msg: 'Field required', input: { df: {} } },
      ],
    });
    const wrongType = await post('/get-online-features', {
      features: ['driver_stats:trips'],
      entities: { driver_id: [1.5] },
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.text).toContain('driver_id');
  });

  it('reports a healthy registry, store and Feast API', async () => {
    const res = await fetch(`${http}/health`);
    expect(res.status).toBe(200);
    const health = await rpc.request(HEALTH.features, {});
    expect(health.status).toBe('ok');
    expect(health.checks.online_store!.detail).toContain('redis');
    expect(health.checks.feast_http!.detail).toContain('listening');
  });
});
