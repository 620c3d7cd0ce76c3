import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '@regatta/config';
import { FEATURES, HEALTH, RegattaError } from '@regatta/contracts';
import {
  PrivateServer,
  TcpFaultProxy,
  eventually,
  freePort,
  serviceUrls,
  uniqueName,
} from '@regatta/testing';
import { NatsBus, RpcClient } from '@regatta/transport';
import { Redis } from 'ioredis';
import { featuresEnv } from './config.js';
import { type RunningFeatures, createFeaturesService } from './service.js';
import { type TestRepo, createTestRepo } from './testing/test-repo.js';

describe('features service when its Redis store is unreachable', () => {
  const { redis: redisUrl } = serviceUrls();
  let nats: PrivateServer;
  let bus: NatsBus;
  let rpc: RpcClient;
  let proxy: TcpFaultProxy;
  let testRepo: TestRepo;
  let running: RunningFeatures;
  let http: string;

  const request = { features: ['customer_stats:txn_count_1h'], entities: { customer_id: ['c1'] } };

  beforeAll(async () => {
    nats = await PrivateServer.start('nats');
    bus = await NatsBus.connect({ url: nats.url, name: 'features-outage' });
    rpc = new RpcClient({ bus, defaultTimeoutMs: 10_000 });
    proxy = await TcpFaultProxy.forUrl(redisUrl).start();
    testRepo = createTestRepo({ project: uniqueName('feat_outage') });
    const port = await freePort();
    running = await createFeaturesService({
      bus,
      config: loadConfig(featuresEnv, {
        FEAST_REPO_PATH: testRepo.dir,
        FEATURES_ONLINE_STORE: 'redis',
        REDIS_URL: proxy.urlFor(redisUrl),
        FEAST_HTTP_PORT: String(port),
        FEAST_HTTP_HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
      }),
    });
    http = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await running?.close();
    await bus?.close();
    await proxy?.stop();
    await nats?.kill();
    if (testRepo) {
      const redis = new Redis(redisUrl);
      const keys = await redis.keysBuffer(`*${testRepo.project}`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      testRepo.remove();
    }
  });

  it('answers UNAVAILABLE and /health 503 (staying ready) while the store is cut, and recovers when it is back', async () => {
    expect((await rpc.request(FEATURES.get, request)).results[1]!.statuses).toEqual(['PRESENT']);

    proxy.cut();
    const err = await rpc.request(FEATURES.get, request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegattaError);
    expect((err as RegattaError).code).toBe('UNAVAILABLE');
    expect((err as RegattaError).message).toContain('online store redis unavailable');

    const health = await fetch(`${http}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      status: 'down',
      checks: { online_store: { status: 'down' } },
    });
    // Redis is shared by every replica: the check is reported but keeps the replica ready, so a rollout
    // or a load balancer does not drain them all while each still answers with a clear error.
    const report = await rpc.request(HEALTH.features, {});
    expect(report.checks.online_store).toMatchObject({ status: 'down', gates_readiness: false });
    expect(report.status).toBe('down');
    expect(report.ready).toBe(true);

    const http503 = await fetch(`${http}/get-online-features`, {
      method: 'POST',
      body: JSON.stringify(request),
    });
    expect(http503.status).toBe(503);

    proxy.restore();
    await eventually(async () => (await fetch(`${http}/health`)).status === 200, 'health 200', 20_000, 200);
    expect((await rpc.request(FEATURES.get, request)).results[1]!.values).toEqual([3]);
  });
});
