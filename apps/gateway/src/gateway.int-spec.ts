import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '@regatta/config';
import { type HealthReply } from '@regatta/contracts';
import { PrivateServer, TcpFaultProxy, eventually, serviceUrls } from '@regatta/testing';
import { InProcessBus, NatsBus } from '@regatta/transport';
import { gatewayEnv } from './config.js';
import { type RunningGateway, createGateway } from './service.js';
import { TEST_ADMIN_KEY } from './testing/harness.js';
import { ProbeController, serveProbe } from './testing/probe.js';

const SHARED = serviceUrls();

async function call(
  gateway: RunningGateway,
  path: string,
  init: { key?: string; body?: unknown; method?: string } = {},
) {
  const res = await fetch(`${gateway.url}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(init.key && { authorization: `Bearer ${init.key}` }),
      ...(init.body !== undefined && { 'content-type': 'application/json' }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The checks of `gateway`'s `/ready`. */
async function readyChecks(gateway: RunningGateway): Promise<HealthReply['checks']> {
  return ((await call(gateway, '/ready')).body as unknown as HealthReply).checks;
}

/** A key limited to `burst` requests (refilled at 0.01/s), created through `gateway`'s admin API. */
async function limitedKey(gateway: RunningGateway, burst: number): Promise<string> {
  const created = await call(gateway, '/v1/admin/keys', {
    key: TEST_ADMIN_KEY,
    body: { tenant: 'acme', scopes: ['predict'], rate_per_s: 0.01, burst },
  });
  expect(created.status).toBe(201);
  return created.body.key as string;
}

/** The status of one probe call with `key` on each of `gateways`, in order. */
async function probeStatuses(gateways: RunningGateway[], key: string): Promise<number[]> {
  const statuses = [];
  for (const gateway of gateways)
    statuses.push((await call(gateway, '/v1/probe/echo', { key, body: { text: 'x' } })).status);
  return statuses;
}

describe('gateway on Postgres and Redis', () => {
  const bus = new InProcessBus();
  let one: RunningGateway;
  let two: RunningGateway;

  beforeAll(async () => {
    serveProbe(bus);
    const config = loadConfig(gatewayEnv, {
      ENVIRONMENT: 'test',
      HOST: '127.0.0.1',
      REGATTA_ADMIN_KEY: TEST_ADMIN_KEY,
      DATABASE_URL: SHARED.database,
      REDIS_URL: SHARED.redis,
      LOG_LEVEL: 'warn',
    });
    // Two replicas sharing the key table and the rate limits.
    one = await createGateway({ bus, config, port: 0, controllers: [ProbeController] });
    two = await createGateway({ bus, config, port: 0, controllers: [ProbeController] });
  }, 60_000);
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await bus.close();
  });

  it('reports the database and shared rate limits as ok', async () => {
    // The Redis connection is made in the background at start; limits are shared once it is up.
    await eventually(
      async () => (await readyChecks(one))['rate-limits']?.status === 'ok',
      'shared rate limits',
    );
    const ready = await readyChecks(one);
    expect(ready.database).toMatchObject({ status: 'ok' });
    expect(ready['rate-limits']).toEqual({ status: 'ok', gates_readiness: false });
  });

  it('accepts a key created on one replica on the other, and limits it across both', async () => {
    const key = await limitedKey(one, 3);
    expect(await probeStatuses([one, two, one, two], key)).toEqual([200, 200, 200, 429]);
  });

  it('stops accepting a revoked key on the replica that revoked it at once', async () => {
    const created = await call(two, '/v1/admin/keys', {
      key: TEST_ADMIN_KEY,
      body: { tenant: 'acme', scopes: ['predict'] },
    });
    const key = created.body.key as string;
    expect((await call(two, '/v1/probe/echo', { key, body: { text: 'x' } })).status).toBe(200);
    const revoked = await call(two, `/v1/admin/keys/${created.body.id as string}`, {
      key: TEST_ADMIN_KEY,
      method: 'DELETE',
    });
    expect(revoked.body.revoked_at).toEqual(expect.any(String));
    expect((await call(two, '/v1/probe/echo', { key, body: { text: 'x' } })).status).toBe(401);
  });

  it('stops accepting a revoked key on the other replica at once, not when its cache expires', async () => {
    const created = await call(one, '/v1/admin/keys', {
      key: TEST_ADMIN_KEY,
      body: { tenant: 'acme', scopes: ['predict'] },
    });
    const key = created.body.key as string;
    // Replica two verifies the key and caches it for API_KEY_CACHE_TTL_MS (30 s by default).
    expect((await call(two, '/v1/probe/echo', { key, body: { text: 'x' } })).status).toBe(200);
    const revoked = await call(one, `/v1/admin/keys/${created.body.id as string}`, {
      key: TEST_ADMIN_KEY,
      method: 'DELETE',
    });
    expect(revoked.status).toBe(200);
    expect((await call(two, '/v1/probe/echo', { key, body: { text: 'x' } })).status).toBe(401);
  });
});

describe('gateway started while Postgres is away', () => {
  it('starts, stays ready and says why in /ready, answers 503 for what needs the database, and recovers without a restart', async () => {
    const proxy = await TcpFaultProxy.forUrl(SHARED.database).start();
    proxy.cut();
    const bus = new InProcessBus();
    serveProbe(bus);
    const config = loadConfig(gatewayEnv, {
      ENVIRONMENT: 'test',
      HOST: '127.0.0.1',
      REGATTA_ADMIN_KEY: TEST_ADMIN_KEY,
      DATABASE_URL: proxy.urlFor(SHARED.database),
      REDIS_URL: SHARED.redis,
      LOG_LEVEL: 'error',
    });
    let gateway: RunningGateway | undefined;
    try {
      gateway = await createGateway({ bus, config, port: 0, controllers: [ProbeController] });

      // Postgres is shared by every replica: draining them all would also stop what still works.
      const down = await call(gateway, '/ready');
      expect(down.status).toBe(200);
      expect(down.body).toMatchObject({ ready: true, status: 'down' });
      const checks = (down.body as unknown as HealthReply).checks;
      expect(checks.nats).toEqual({ status: 'ok', detail: 'in-process bus' });
      // No downstream service runs here either: reported, not gating.
      expect(checks.features).toMatchObject({ status: 'down', gates_readiness: false });
      expect(checks.database).toMatchObject({ status: 'down', gates_readiness: false });
      expect(checks['api-keys']!.status).toBe('down');
      expect(checks['api-keys']!.detail).toMatch(/^schema not applied yet after \d+ attempts?: /);
      expect(checks['decision-log']!.status).toBe('degraded');
      expect(checks['decision-log']!.detail).toMatch(/decisions are held in memory meanwhile$/);

      // What needs no database is served; what does gets a clear 503.
      expect(
        (await call(gateway, '/v1/probe/echo', { key: TEST_ADMIN_KEY, body: { text: 'x' } })).status,
      ).toBe(200);
      const listing = await call(gateway, '/v1/admin/keys', { key: TEST_ADMIN_KEY });
      expect(listing.status).toBe(503);
      expect(JSON.stringify(listing.body)).toContain('the API key store is not ready');
      const tenant = await call(gateway, '/v1/probe/echo', {
        key: 'rg_unknown_tenant_key_0000000000000000',
        body: { text: 'x' },
      });
      expect(tenant.status).toBe(503);
      expect(JSON.stringify(tenant.body)).toContain('cannot verify the API key right now');

      proxy.restore();
      const running = gateway;
      // Its own checks recover; the downstream services (not run here) stay down in the report.
      const recovered = async () => {
        const { checks: now } = (await call(running, '/ready')).body as unknown as HealthReply;
        return ['database', 'api-keys', 'decision-log'].every((name) => now[name]?.status === 'ok');
      };
      await eventually(recovered, 'the database checks to recover once Postgres is back', 20_000, 100);
      const created = await call(gateway, '/v1/admin/keys', {
        key: TEST_ADMIN_KEY,
        body: { tenant: 'acme', scopes: ['predict'] },
      });
      expect(created.status).toBe(201);
      expect(
        (await call(gateway, '/v1/probe/echo', { key: created.body.key as string, body: { text: 'x' } }))
          .status,
      ).toBe(200);
    } finally {
      proxy.restore();
      await gateway?.close();
      await bus.close();
      await proxy.stop();
    }
  }, 60_000);
});

describe('gateways on NATS without Redis', () => {
  let nats: PrivateServer;
  const buses: NatsBus[] = [];
  let one: RunningGateway;
  let two: RunningGateway;

  beforeAll(async () => {
    // A NATS of their own: gateways of other suites on the shared one would be counted too.
    nats = await PrivateServer.start('nats');
    const config = loadConfig(gatewayEnv, {
      ENVIRONMENT: 'test',
      HOST: '127.0.0.1',
      REGATTA_ADMIN_KEY: TEST_ADMIN_KEY,
      DATABASE_URL: SHARED.database,
      RATE_LIMIT_PEERS_INTERVAL_MS: '200',
      LOG_LEVEL: 'warn',
    });
    const start = async () => {
      const bus = await NatsBus.connect({ url: nats.url, name: 'gateway-peers-test' });
      buses.push(bus);
      serveProbe(bus);
      return createGateway({ bus, config, port: 0, controllers: [ProbeController] });
    };
    one = await start();
    two = await start();
  }, 60_000);
  afterAll(async () => {
    await one?.close();
    await two?.close();
    for (const bus of buses) await bus.close();
    await nats?.kill();
  });

  const rateLimits = async (gateway: RunningGateway) => (await readyChecks(gateway))['rate-limits'];

  it("gives each replica half of a key's limit, so the two together keep to it", async () => {
    await eventually(
      async () => (await rateLimits(one))?.detail?.includes('(2 gateways)') === true,
      'replica one to count two gateways',
    );
    await eventually(
      async () => (await rateLimits(two))?.detail?.includes('(2 gateways)') === true,
      'replica two to count two gateways',
    );
    expect(await rateLimits(one)).toEqual({
      status: 'degraded',
      detail: "REDIS_URL not set: per-process rate limits, 1/2 of each key's limit (2 gateways)",
      gates_readiness: false,
    });
    const key = await limitedKey(one, 4);
    expect(await probeStatuses([one, two, one, two, one, two], key)).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it('gives the whole limit back to the replica left alone', async () => {
    await two.close();
    await eventually(
      async () => (await rateLimits(one))?.detail === 'REDIS_URL not set: per-process rate limits',
      'replica one to count itself alone',
    );
    const key = await limitedKey(one, 4);
    expect(await probeStatuses([one, one, one, one, one], key)).toEqual([200, 200, 200, 200, 429]);
  });
});
