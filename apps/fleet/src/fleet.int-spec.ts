import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DistributedFleet } from './distributed.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface FleetView {
  services: Record<string, { status: string; instance?: string }>;
}

async function fleetView(url: string): Promise<{ status: number; body: FleetView }> {
  const res = await fetch(`${url}/v1/fleet`);
  return { status: res.status, body: (await res.json()) as FleetView };
}

describe('distributed fleet over real NATS', () => {
  let fleet: DistributedFleet;

  beforeAll(async () => {
    fleet = await DistributedFleet.start({ replicas: { inference: 2 }, env: { LOG_LEVEL: 'info' } });
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

  it('loses no request when one replica gets SIGTERM under load', async () => {
    const [victim, survivor] = fleet.processes.filter((p) => p.service === 'inference');
    let stop = false;
    const failures: string[] = [];
    const servedBy = new Map<string, number>();
    let total = 0;
    const worker = async () => {
      while (!stop) {
        try {
          const { status, body } = await fleetView(fleet.gatewayUrl);
          const svc = body.services.inference!;
          if (status !== 200 || svc.status === 'down') failures.push(`${status} ${JSON.stringify(svc)}`);
          else servedBy.set(svc.instance!, (servedBy.get(svc.instance!) ?? 0) + 1);
        } catch (err) {
          failures.push((err as Error).message);
        }
        total++;
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    await new Promise((r) => setTimeout(r, 1_000));
    const exitCode = await fleet.signal(victim!, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 1_000));
    stop = true;
    await Promise.all(workers);

    expect(exitCode).toBe(0);
    expect(failures).toEqual([]);
    expect(total).toBeGreaterThan(100);
    expect(
      servedBy.get(`${survivor!.child.pid}`) ??
        [...servedBy.keys()].some((k) => k.endsWith(`:${survivor!.child.pid}`)),
    ).toBeTruthy();
  }, 60_000);
});

describe('configuration errors stop a service at boot', () => {
  it.each(['gateway', 'inference', 'features', 'llm-proxy'])(
    '%s exits non-zero naming NATS_URL=not-a-url',
    (service) => {
      const run = spawnSync(process.execPath, [path.join(root, 'apps', service, 'dist/main.js')], {
        env: { PATH: process.env.PATH, NATS_URL: 'not-a-url', LOG_LEVEL: 'silent' },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(run.status).not.toBe(0);
      expect(run.status).not.toBeNull();
      expect(run.stderr).toContain('NATS_URL');
      expect(run.stderr).toContain('not-a-url');
    },
  );

  it('names every bad variable at once', () => {
    const run = spawnSync(process.execPath, [path.join(root, 'apps/gateway/dist/main.js')], {
      env: { PATH: process.env.PATH, PORT: 'eighty', REDIS_URL: 'http://x', LOG_LEVEL: 'loud' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(78);
    for (const name of ['PORT', 'REDIS_URL', 'LOG_LEVEL']) expect(run.stderr).toContain(name);
  });
});
