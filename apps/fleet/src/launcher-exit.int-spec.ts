import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PrivateServer, eventually } from '@regatta/testing';

const FLEET_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/index.js');

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('replicas of a distributed fleet whose launcher dies', () => {
  let nats: PrivateServer;
  let dataDir: string;

  beforeAll(async () => {
    nats = await PrivateServer.start('nats');
    dataDir = mkdtempSync(path.join(tmpdir(), 'regatta-launcher-exit-'));
  });
  afterAll(async () => {
    await nats?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stop on their own when the launcher is killed (no SIGTERM reaches them)', async () => {
    // The launcher: a process that starts one features replica and one inference replica, prints their
    // pids and stays up (its children keep it alive) until it is killed.
    const script = `
      import { DistributedFleet } from ${JSON.stringify(FLEET_DIST)};
      const fleet = await DistributedFleet.start({
        natsUrl: ${JSON.stringify(nats.url)},
        replicas: { inference: 1, features: 1, 'llm-proxy': 0, gateway: 0 },
        env: { LOG_LEVEL: 'warn', REGATTA_DATA_DIR: ${JSON.stringify(dataDir)}, FEAST_HTTP_PORT: '0' },
      });
      process.stdout.write(JSON.stringify(fleet.processes.map((p) => p.child.pid)) + '\\n');
    `;
    const launcher = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pids = await new Promise<number[]>((resolve, reject) => {
      launcher.stdout.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()) as number[]));
      launcher.once('exit', (code) => reject(new Error(`the launcher exited with ${code} before starting`)));
    });
    expect(pids).toHaveLength(2);
    expect(pids.every(alive)).toBe(true);
    try {
      launcher.kill('SIGKILL');
      await eventually(() => pids.every((pid) => !alive(pid)), 'the replicas to stop', 20_000, 100);
    } finally {
      for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
    }
  });
});
