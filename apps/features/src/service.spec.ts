import { createServer, type Server } from 'node:net';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '@regatta/config';
import { FEATURES, HEALTH, RegattaError } from '@regatta/contracts';
import { MemoryOnlineStore } from '@regatta/feast';
import { configureLogging, createLogger } from '@regatta/telemetry';
import { InProcessBus, RpcClient } from '@regatta/transport';
import { featuresEnv } from './config.js';
import { type RunningFeatures, createFeaturesService, startConfiguredFeastHttp } from './service.js';
import { type TestRepo, createTestRepo, testDefinition } from './testing/test-repo.js';

// Expected warnings (a taken port, a missing registry) stay out of the test output.
configureLogging({ level: 'silent' });

const NOW = Date.parse('2024-01-01T06:00:00Z');

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe(createFeaturesService.name, () => {
  let testRepo: TestRepo;
  let registryDir: string;
  let bus: InProcessBus;
  let rpc: RpcClient;
  let running: RunningFeatures;
  const store = new MemoryOnlineStore();

  beforeAll(async () => {
    testRepo = createTestRepo({ project: 'unit_service' });
    // The registry lives outside the repo, as FEAST_REGISTRY_PATH allows.
    registryDir = mkdtempSync(path.join(tmpdir(), 'regatta-registry-'));
    renameSync(path.join(testRepo.dir, 'data/registry.db'), path.join(registryDir, 'registry.db'));
    bus = new InProcessBus();
    rpc = new RpcClient({ bus, defaultTimeoutMs: 5_000 });
    const config = loadConfig(featuresEnv, {
      FEAST_REPO_PATH: testRepo.dir,
      FEAST_REGISTRY_PATH: path.join(registryDir, 'registry.db'),
      FEAST_REGISTRY_POLL_MS: '50',
      FEAST_HTTP_PORT: '0',
      LOG_LEVEL: 'silent',
    });
    running = await createFeaturesService({
      bus,
      config,
      overrides: { store, now: () => NOW },
    });
  });

  afterAll(async () => {
    await running?.close();
    await bus.close();
    testRepo.remove();
    rmSync(registryDir, { recursive: true, force: true });
  });

  it('loads the batch sources on first start and answers features.get.v1 from them', async () => {
    const reply = await rpc.request(FEATURES.get, {
      feature_service: 'fraud_features',
      entities: { customer_id: ['c1', 'c9'], merchant_id: ['m1', 'm1'] },
    });
    expect(reply.metadata.feature_names).toEqual([
      'customer_id',
      'merchant_id',
      'txn_count_1h',
      'avg_amount_30d',
      'tags',
      'fraud_rate',
    ]);
    expect(reply.results.slice(2).map((c) => c.statuses)).toEqual([
      ['PRESENT', 'NOT_FOUND'],
      ['PRESENT', 'NOT_FOUND'],
      ['PRESENT', 'NOT_FOUND'],
      ['PRESENT', 'PRESENT'],
    ]);
    expect(reply.results[4]!.values).toEqual([['new', 'web'], null]);
    expect(reply.results[5]!.event_timestamps).toEqual(['2024-01-01T06:00:00Z', '2024-01-01T06:00:00Z']);
  });

  it('rejects a request outside the contract before the handler runs', async () => {
    await expect(
      rpc.request(FEATURES.get, {
        features: ['customer_stats:tags'],
        entities: { customer_id: ['c1'] },
        extra: 1,
      } as never),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('answers unknown names with a typed NOT_FOUND that names them', async () => {
    const err = await rpc
      .request(FEATURES.get, { features: ['customer_stats:nope'], entities: { customer_id: ['c1'] } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegattaError);
    expect(err).toMatchObject({
      code: 'NOT_FOUND',
      message: 'feature nope not found in feature view customer_stats',
    });
  });

  it('serves a registry change without a restart (the file is watched, never read per request)', async () => {
    const definition = testDefinition('unit_service');
    definition.feature_views!.push({
      name: 'late_view',
      entities: ['customer'],
      features: [{ name: 'x', dtype: 'INT64' }],
    });
    const next = path.join(registryDir, 'next.db');
    const tmp = createTestRepo({ project: 'unit_service', definition });
    renameSync(path.join(tmp.dir, 'data/registry.db'), next);
    tmp.remove();
    renameSync(next, path.join(registryDir, 'registry.db'));
    const reply = await until(() =>
      rpc
        .request(FEATURES.get, { features: ['late_view:x'], entities: { customer_id: ['c1'] } })
        .catch(() => undefined),
    );
    expect(reply.results[1]!.statuses).toEqual(['NOT_FOUND']);
  });

  it('reports registry, online store, NATS and the Feast HTTP API in its health', async () => {
    const health = await rpc.request(HEALTH.features, {});
    expect(Object.keys(health.checks).sort()).toEqual(['feast_http', 'nats', 'online_store', 'registry']);
    expect(health.checks.feast_http).toEqual({ status: 'ok', detail: 'off (FEAST_HTTP_PORT=0)' });
    expect(health.ready).toBe(true);
  });

  it('is not ready while a store of its own (not shared with other replicas) is down', async () => {
    store.down = true;
    try {
      const health = await rpc.request(HEALTH.features, {});
      expect(health.checks.online_store).toMatchObject({ status: 'down' });
      expect(health.checks.online_store!.gates_readiness).toBeUndefined();
      expect(health.ready).toBe(false);
    } finally {
      store.down = false;
    }
    expect((await rpc.request(HEALTH.features, {})).ready).toBe(true);
  });
});

describe(startConfiguredFeastHttp.name, () => {
  let taken: Server;
  let port: number;
  const logger = createLogger('features-test');

  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  const features = {} as never; // the server is never started in these cases

  it('carries on without the API, degraded, when the default port is taken by another replica', async () => {
    const started = await startConfiguredFeastHttp(features, {
      configuredPort: undefined,
      defaultPort: port,
      host: '127.0.0.1',
      logger,
    });
    expect(started.server).toBeUndefined();
    expect(started.check).toEqual({
      status: 'degraded',
      detail: `port ${port} is taken (another replica on this host?): Feast HTTP API off, NATS only`,
    });
  });

  it('fails when an explicitly configured port is taken', async () => {
    await expect(
      startConfiguredFeastHttp(features, {
        configuredPort: port,
        defaultPort: 6566,
        host: '127.0.0.1',
        logger,
      }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
