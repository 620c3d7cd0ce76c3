import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { get } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, freePort, serviceUrls } from '@regatta/testing';
import { TEST_ADMIN_KEY } from './testing/harness.js';

const SHARED = serviceUrls();

const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/main.js');

/** GET /health on a fresh connection (a kept-alive one would always reach the same worker). */
function health(port: number): Promise<{ status: number; instance: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 2_000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          instance: (JSON.parse(text) as { instance: string }).instance,
        }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 2 s')));
    req.on('error', reject);
  });
}

const pidOf = (instance: string) => Number(instance.slice(instance.lastIndexOf(':') + 1));

describe('cluster mode (GATEWAY_WORKERS=2)', () => {
  let primary: ChildProcess;
  let port: number;
  let log = '';

  beforeAll(async () => {
    port = await freePort();
    primary = spawn(process.execPath, [main], {
      env: {
        PATH: process.env.PATH,
        NATS_URL: SHARED.nats,
        DATABASE_URL: SHARED.database,
        PORT: String(port),
        HOST: '127.0.0.1',
        GATEWAY_WORKERS: '2',
        REGATTA_ADMIN_KEY: TEST_ADMIN_KEY,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    primary.stdout!.on('data', (c: Buffer) => (log += c.toString()));
    primary.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    await eventually(
      async () => (await health(port).catch(() => undefined))?.status === 200,
      'the cluster to listen',
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${log}`);
    });
  }, 60_000);
  afterAll(async () => {
    if (primary.exitCode === null) {
      primary.kill('SIGKILL');
      await once(primary, 'exit');
    }
  });

  /** The workers that answered `n` requests; a request that fails (a worker dying) is skipped. */
  async function instances(n: number): Promise<Set<string>> {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const res = await health(port).catch(() => undefined);
      if (res) seen.add(res.instance);
    }
    return seen;
  }

  it('serves one port from two worker processes', async () => {
    // Workers come up one after the other; round-robin reaches both once both listen.
    await eventually(async () => (await instances(10)).size === 2, 'both workers to answer', 20_000);
    const pids = [...(await instances(20))].map(pidOf);
    expect(pids).toHaveLength(2);
    expect(pids).not.toContain(primary.pid);
  }, 30_000);

  it('replaces a worker that dies', async () => {
    const [victim] = [...(await instances(10))].map(pidOf);
    process.kill(victim!, 'SIGKILL');
    await eventually(
      async () => {
        const pids = [...(await instances(10))].map(pidOf);
        return pids.length === 2 && !pids.includes(victim!);
      },
      'a new worker',
      20_000,
    );
  }, 30_000);

  it('stops every worker and exits 0 on SIGTERM', async () => {
    const workers = [...(await instances(10))].map(pidOf);
    primary.kill('SIGTERM');
    const [code] = (await once(primary, 'exit')) as [number | null];
    expect(code).toBe(0);
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  }, 30_000);
});
