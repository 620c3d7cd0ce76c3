// How long each service takes from spawn until it answers /ready, run from its bundle (dist/bundle/main.mjs,
// what its start script, the image and the distributed fleet run) and from the compiled modules the bundle
// is made of (dist/main.js). Each service alone on a private nats-server; REDIS_URL and DATABASE_URL are
// passed on when set (without DATABASE_URL the gateway and the LLM proxy open an embedded PGlite database
// first). Bundle and modules alternate start by start; medians with the range.
// Usage: pnpm turbo run build --filter=@regatta/bench... && node bench/dist/scenarios/service-starts.js [--runs 5]
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FLEET_SERVICES, type FleetService, freePort, serviceEntry } from '@regatta/fleet';
import { PrivateServer } from '@regatta/testing';
import { repoRoot, table, updateDocs, writeResult } from '../lib/report.js';
import { median } from '../lib/stats.js';
import { Undo } from '../lib/undo.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs is a positive integer');
const POLL_MS = 5;
const TIMEOUT_MS = 60_000;

const undo = new Undo();
const dataDir = mkdtempSync(path.join(tmpdir(), 'regatta-bench-starts-'));
undo.push('the data directory', () => rmSync(dataDir, { recursive: true, force: true }));
const nats = await PrivateServer.start('nats');
undo.push('the private nats-server', () => nats.kill());

const ENTRIES = {
  bundle: (service: FleetService) => serviceEntry(service),
  modules: (service: FleetService) => path.join(repoRoot, 'apps', service, 'dist/main.js'),
};
type Entry = keyof typeof ENTRIES;

/** Spawns `service` from `entry`, waits for /ready 200 and stops it; the time from spawn to ready, in ms. */
async function startOnce(service: FleetService, entry: Entry): Promise<number> {
  const [port, adminPort, feastPort] = [await freePort(), await freePort(), await freePort()];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    NATS_URL: nats.url,
    LOG_LEVEL: 'warn',
    REGATTA_DATA_DIR: mkdtempSync(path.join(dataDir, `${service}-`)),
    ...(service === 'gateway'
      ? { PORT: String(port), ADMIN_PORT: String(adminPort) }
      : { METRICS_PORT: String(port) }),
    ...(service === 'features' && { FEAST_HTTP_PORT: String(feastPort) }),
    ...(process.env.REDIS_URL && { REDIS_URL: process.env.REDIS_URL }),
    ...(process.env.DATABASE_URL && { DATABASE_URL: process.env.DATABASE_URL }),
  };
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, [ENTRIES[entry](service)], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stop = () => child.kill('SIGKILL');
  undo.push(`${service} (${entry})`, stop);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${service} (${entry}) exited: ${stderr.slice(-2000)}`);
      if (performance.now() - started > TIMEOUT_MS)
        throw new Error(`${service} (${entry}) not ready in time`);
      const ok = await fetch(`http://127.0.0.1:${port}/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return performance.now() - started;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    const exited = child.exitCode === null ? once(child, 'exit') : Promise.resolve();
    child.kill('SIGTERM');
    await exited;
  }
}

const loadBefore = loadavg();
const starts = new Map<string, number[]>();
try {
  for (let run = 0; run < RUNS; run++) {
    for (const service of FLEET_SERVICES) {
      for (const entry of Object.keys(ENTRIES) as Entry[]) {
        const ms = await startOnce(service, entry);
        const key = `${service}|${entry}`;
        starts.set(key, [...(starts.get(key) ?? []), ms]);
        process.stdout.write(
          `${service} from its ${entry}, run ${run + 1}: ready after ${ms.toFixed(0)} ms\n`,
        );
      }
    }
  }
} finally {
  await undo.all();
}
const loadAfter = loadavg();

const range = (xs: number[]) =>
  `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
const rows = FLEET_SERVICES.map((service) => {
  const bundle = starts.get(`${service}|bundle`)!;
  const modules = starts.get(`${service}|modules`)!;
  return [service, range(bundle), range(modules), `${(median(bundle) / median(modules)).toFixed(2)}x`];
});
const file = writeResult('service-starts', {
  runs: RUNS,
  redis: Boolean(process.env.REDIS_URL),
  database: Boolean(process.env.DATABASE_URL),
  loadavg: { before: loadBefore, after: loadAfter },
  starts: Object.fromEntries(starts),
});
const stores = [process.env.REDIS_URL && 'Redis', process.env.DATABASE_URL && 'Postgres'].filter(Boolean);
updateDocs(
  'service-starts',
  `Measured ${new Date().toISOString().slice(0, 10)} with \`pnpm turbo run build --filter=@regatta/bench... && ${[
    process.env.REDIS_URL && `REDIS_URL=${process.env.REDIS_URL}`,
    process.env.DATABASE_URL && `DATABASE_URL=${process.env.DATABASE_URL}`,
  ]
    .filter(Boolean)
    .join(' ')} node bench/dist/scenarios/service-starts.js --runs ${RUNS}\`
(each service alone on a private nats-server${stores.length ? ` with ${stores.join(' and ')}` : ', no Redis or Postgres'}; bundle and compiled modules
alternating, ${RUNS} starts each; load average ${loadBefore.map((l) => l.toFixed(1)).join(' / ')} before and
${loadAfter.map((l) => l.toFixed(1)).join(' / ')} after; /ready polled every ${POLL_MS} ms; raw data in \`bench/results/service-starts.json\`).
Spawn → /ready, median (min–max) in ms:

${table(['service', 'bundle (dist/bundle/main.mjs)', 'compiled modules (dist/main.js)', 'bundle / modules'], rows)}`,
);
process.stdout.write(`results: ${file}\n`);
