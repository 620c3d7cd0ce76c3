import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { type FleetProcess, DistributedFleet, FLEET_SERVICES, serviceEntry } from './distributed.js';
import { DEMO_TRANSACTION } from './testing/demo.js';
import { fleetUrls } from './testing/urls.js';

const ADMIN_KEY = 'rg_fleet_test_admin_key_0123456789abcdef';

interface FleetView {
  services: Record<string, { status: string; instance?: string }>;
}

async function fleetView(url: string): Promise<{ status: number; body: FleetView }> {
  const res = await fetch(`${url}/v1/fleet`);
  return { status: res.status, body: (await res.json()) as FleetView };
}

async function call(
  url: string,
  init: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** Successful fraud predictions a replica has answered, from its /metrics. */
async function servedPredictions(proc: FleetProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${proc.adminPort}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('inference_requests_total{') &&
        l.includes('model="fraud"') &&
        l.includes('outcome="success"'),
    );
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('distributed fleet over real NATS', () => {
  let fleet: DistributedFleet;

  beforeAll(async () => {
    fleet = await DistributedFleet.start({
      ...fleetUrls(),
      replicas: { inference: 2 },
      // One key drives all the load below: its rate limit must not be what the test measures.
      env: {
        LOG_LEVEL: 'info',
        REGATTA_ADMIN_KEY: ADMIN_KEY,
        RATE_LIMIT_PER_S: '100000',
        RATE_LIMIT_BURST: '100000',
      },
    });
  }, 120_000);
  afterAll(async () => {
    await fleet?.stop();
  });

  it('serves one request through both replicas of a service in its queue group', async () => {
    const instances = new Set<string>();
    for (let i = 0; i < 40 && instances.size < 2; i++) {
      const { status, body } = await fleetView(fleet.gatewayUrl);
      expect(status).toBe(200);
      instances.add(body.services.inference!.instance!);
    }
    const pids = fleet.processes.filter((p) => p.service === 'inference').map((p) => `:${p.child.pid}`);
    expect([...instances].map((i) => i.slice(i.lastIndexOf(':'))).sort()).toEqual(pids.sort());
  });

  it('scores the same transaction alike through /v1/predict and the KServe v2 route', async () => {
    const v1 = await call(`${fleet.gatewayUrl}/v1/predict/fraud`, {
      body: { rows: [DEMO_TRANSACTION], cache: false },
    });
    expect(v1.status).toBe(200);
    const score = (v1.body as { outputs: { score: number[][] } }).outputs.score[0]![0]!;
    expect(score).toBeGreaterThan(0);
    expect(score).toBeLessThan(1);

    const v2 = await call(`${fleet.gatewayUrl}/v2/models/fraud/versions/1/infer`, {
      body: {
        id: 'tx-1',
        inputs: [{ name: 'features', shape: [1, 15], datatype: 'FP32', data: [DEMO_TRANSACTION] }],
      },
    });
    expect(v2).toEqual({
      status: 200,
      body: {
        model_name: 'fraud',
        model_version: '1',
        id: 'tx-1',
        outputs: [{ name: 'score', shape: [1, 1], datatype: 'FP32', data: [score] }],
      },
    });

    const meta = await call(`${fleet.gatewayUrl}/v2/models/fraud`);
    expect(meta.body).toMatchObject({ name: 'fraud', versions: ['1'], platform: 'onnxruntime_onnx' });
    expect((await call(`${fleet.gatewayUrl}/v2/health/ready`)).body).toEqual({ ready: true });
    expect((await call(`${fleet.gatewayUrl}/v2/models/fraud/ready`)).body).toEqual({
      name: 'fraud',
      ready: true,
    });
  });

  it('answers bad input with typed 4xx errors, never a 500', async () => {
    const short = await call(`${fleet.gatewayUrl}/v1/predict/fraud`, { body: { rows: [[1, 2, 3]] } });
    expect(short.status).toBe(400);
    expect(short.body).toMatchObject({
      error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('row 0 has 3 values') as unknown },
    });
    const unknown = await call(`${fleet.gatewayUrl}/v2/models/churn/infer`, {
      body: { inputs: [{ name: 'features', shape: [1, 1], datatype: 'FP32', data: [1] }] },
    });
    expect(unknown).toEqual({ status: 404, body: { error: "model 'churn' is not served (served: fraud)" } });
    const shape = await call(`${fleet.gatewayUrl}/v2/models/fraud/infer`, {
      body: {
        inputs: [{ name: 'features', shape: [1, 14], datatype: 'FP32', data: DEMO_TRANSACTION.slice(1) }],
      },
    });
    expect(shape.status).toBe(400);
    expect((shape.body as { error: string }).error).toContain("input 'features' has shape [1, 14]");
  });

  it('loses no prediction when one replica gets SIGTERM under load', async () => {
    const [victim, survivor] = fleet.processes.filter((p) => p.service === 'inference');
    let stop = false;
    const failures: string[] = [];
    let total = 0;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        // Past the prediction cache (which lives on in Redis between runs), so every request runs the
        // model through a replica's batcher and shows in its request count.
        const row = DEMO_TRANSACTION.map((v, c) => (c === 0 ? v + w * 100_000 + i / 100 : v));
        try {
          const { status, body } = await call(`${fleet.gatewayUrl}/v1/predict/fraud`, {
            body: { rows: [row], cache: false },
          });
          if (status !== 200) failures.push(`${status} ${JSON.stringify(body)}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
        total++;
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 1_000));
    const victimServed = await servedPredictions(victim!);
    const survivorBefore = await servedPredictions(survivor!);
    const exitCode = await fleet.signal(victim!, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 1_000));
    stop = true;
    await Promise.all(workers);

    expect(exitCode).toBe(0);
    expect(failures).toEqual([]);
    expect(total).toBeGreaterThan(100);
    // Both replicas did real work before the signal, and the survivor carried the load after it.
    expect(victimServed).toBeGreaterThan(0);
    expect(await servedPredictions(survivor!)).toBeGreaterThan(survivorBefore);
  }, 60_000);
});

describe('configuration errors stop a service at boot', () => {
  it.each(FLEET_SERVICES)('%s exits non-zero naming NATS_URL=not-a-url', (service) => {
    const run = spawnSync(process.execPath, [serviceEntry(service)], {
      env: { PATH: process.env.PATH, NATS_URL: 'not-a-url', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).not.toBe(0);
    expect(run.status).not.toBeNull();
    expect(run.stderr).toContain('NATS_URL');
    expect(run.stderr).toContain('not-a-url');
  });

  it('names every bad variable at once', () => {
    const run = spawnSync(process.execPath, [serviceEntry('gateway')], {
      env: { PATH: process.env.PATH, PORT: 'eighty', REDIS_URL: 'http://x', LOG_LEVEL: 'loud' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(78);
    for (const name of ['PORT', 'REDIS_URL', 'LOG_LEVEL']) expect(run.stderr).toContain(name);
  });
});
