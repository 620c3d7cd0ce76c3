import { afterEach, describe, expect, it } from '@jest/globals';
import { HealthRegistry } from './health.js';
import { startAdminServer } from './metrics-server.js';

describe(HealthRegistry.name, () => {
  describe('report', () => {
    it('is ok and ready only once marked ready with every check ok', async () => {
      const health = new HealthRegistry('inference', 'host:1');
      health.add('nats', () => ({ status: 'ok' }));
      expect((await health.report()).ready).toBe(false);
      health.setReady();
      expect(await health.report()).toMatchObject({
        service: 'inference',
        instance: 'host:1',
        status: 'ok',
        ready: true,
      });
    });

    it('takes the worst check: degraded stays ready, down is not ready', async () => {
      let redis: 'ok' | 'degraded' | 'down' = 'degraded';
      const health = new HealthRegistry('features')
        .add('nats', () => ({ status: 'ok' }))
        .add('redis', () => ({ status: redis, detail: 'in-process cache only' }));
      health.setReady();
      expect(await health.report()).toMatchObject({
        status: 'degraded',
        ready: true,
        checks: { redis: { status: 'degraded', detail: 'in-process cache only' } },
      });
      redis = 'down';
      expect(await health.report()).toMatchObject({ status: 'down', ready: false });
    });

    it('reports a shared dependency that is down without taking the replica out of traffic', async () => {
      let database: 'ok' | 'down' = 'down';
      let nats: 'ok' | 'down' = 'ok';
      const health = new HealthRegistry('gateway')
        .add('nats', () => ({ status: nats }))
        .add('database', () => ({ status: database, detail: 'connection refused' }), {
          gatesReadiness: false,
        })
        .add('inference', () => Promise.reject(new Error('no responders')), { gatesReadiness: false });
      health.setReady();
      expect(await health.report()).toMatchObject({
        status: 'down',
        ready: true,
        checks: {
          nats: { status: 'ok' },
          database: { status: 'down', detail: 'connection refused', gates_readiness: false },
          inference: { status: 'down', detail: 'no responders', gates_readiness: false },
        },
      });
      expect((await health.report()).checks.nats).not.toHaveProperty('gates_readiness');
      // A check that gates readiness still does.
      nats = 'down';
      expect((await health.report()).ready).toBe(false);
      nats = 'ok';
      database = 'ok';
      expect(await health.report()).toMatchObject({ status: 'down', ready: true });
    });

    it('reports a check that throws as down with its message', async () => {
      const health = new HealthRegistry('llm-proxy').add('database', () =>
        Promise.reject(new Error('connection refused')),
      );
      expect((await health.report()).checks.database).toEqual({
        status: 'down',
        detail: 'connection refused',
      });
    });
  });
});

describe(startAdminServer.name, () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('serves /health, /ready and /metrics with a response time header', async () => {
    const health = new HealthRegistry('features');
    const admin = await startAdminServer(0, health);
    close = admin.close;
    const base = `http://127.0.0.1:${admin.port}`;
    const live = await fetch(`${base}/health`);
    expect(live.status).toBe(200);
    expect(Number(live.headers.get('x-response-time-ms'))).toBeGreaterThanOrEqual(0);
    expect((await fetch(`${base}/ready`)).status).toBe(503); // not ready yet
    health.setReady();
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    health.add('redis', () => ({ status: 'down', detail: 'connection refused' }));
    // A dependency down takes the service out of traffic, but it is still alive.
    expect((await fetch(`${base}/ready`)).status).toBe(503);
    const alive = await fetch(`${base}/health`);
    expect(alive.status).toBe(200);
    expect(await alive.json()).toMatchObject({ status: 'down', checks: { redis: { status: 'down' } } });
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('process_cpu_seconds_total');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
