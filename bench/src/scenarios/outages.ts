// POST /v1/decisions while the fleet's Redis fails in the two ways a shared server fails: refusing
// connections (stopped, restarted) and going silent (a partition: the sockets stay open, nothing answers).
// The distributed fleet reaches Redis through a fault proxy; open-loop decisions run through phases:
// healthy, Redis refusing, healthy again, Redis silent, healthy again. Per phase: latency, errors, and
// how many decisions were made with default features (the flow's fallback, flagged `degraded`).
// Usage: pnpm turbo run build --filter=@regatta/bench... && node bench/dist/scenarios/outages.js [--rate 100] [--duration 10]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DistributedFleet } from '@regatta/fleet';
import { PrivateServer, TcpFaultProxy, eventually } from '@regatta/testing';
import { Agent, request } from 'undici';
import { decisionBodies, postDecision } from '../lib/decision-call.js';
import { openLoop, type OpenLoopResult } from '../lib/open-loop.js';
import { table, updateDocs, writeResult } from '../lib/report.js';
import { Undo } from '../lib/undo.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '100' },
    duration: { type: 'string', default: '10' },
  },
});
const rate = Number(values.rate);
const durationS = Number(values.duration);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const undo = new Undo();
const nats = await PrivateServer.start('nats');
undo.push('the private nats-server', () => nats.kill());
const proxy = await TcpFaultProxy.forUrl(redisUrl).start();
undo.push('the Redis fault proxy', () => proxy.stop());
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'regatta-bench-outages-'));
undo.push('the data directory', () => rmSync(dataDir, { recursive: true, force: true }));
const ADMIN_KEY = `rg_bench_outages_${process.pid}_0123456789abcdef`;
const fleet = await DistributedFleet.start({
  natsUrl: nats.url,
  redisUrl: proxy.urlFor(redisUrl),
  databaseUrl,
  env: {
    LOG_LEVEL: 'error',
    REGATTA_DATA_DIR: dataDir,
    REGATTA_ADMIN_KEY: ADMIN_KEY,
    RATE_LIMIT_PER_S: '100000',
    RATE_LIMIT_BURST: '100000',
  },
});
undo.push('the fleet', () => fleet.stop());

const http = new Agent({ connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
undo.push('the HTTP agent', () => http.close());

const bodies = decisionBodies(1000);

interface Phase extends Omit<OpenLoopResult, 'latencyByRequestMs'> {
  phase: string;
  degraded: number;
  /** Why features were defaulted, as the decisions said it, and how often. */
  reasons: Record<string, number>;
  statuses: Record<string, number>;
  /** Answered requests that took longer than 100 ms. */
  over100ms: number;
}

const whyDefaulted = (reasons: Record<string, number>) =>
  Object.entries(reasons)
    .map(([reason, n]) => `${n} ${/\(([A-Z_]+)\)$/.exec(reason)?.[1] ?? reason}`)
    .join(', ');

async function phase(name: string, setup: () => void): Promise<Phase> {
  setup();
  let degraded = 0;
  const reasons: Record<string, number> = {};
  const statuses: Record<string, number> = {};
  const result = await openLoop({
    rate,
    durationS,
    warmupS: 0,
    tickMs: 1,
    keepSamples: true,
    fire: async (i) => {
      const { status, text } = await postDecision(
        fleet.gatewayUrl,
        ADMIN_KEY,
        bodies[i % bodies.length]!,
        http,
      );
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status !== 200) throw new Error(`HTTP ${status} ${text.slice(0, 120)}`);
      const why = (JSON.parse(text) as { degraded?: string[] }).degraded?.find((d) =>
        d.startsWith('features'),
      );
      if (why) {
        degraded++;
        reasons[why] = (reasons[why] ?? 0) + 1;
      }
    },
  });
  const over100ms = (result.latencyByRequestMs ?? []).filter((ms) => ms > 100).length;
  const { latencyByRequestMs: _samples, ...summary } = result;
  const row = { phase: name, degraded, reasons, statuses, over100ms, ...summary };
  process.stdout.write(
    `${name}: p50 ${result.latencyMs.p50.toFixed(2)} p99 ${result.latencyMs.p99.toFixed(2)} ms, errors ${result.errors}, ` +
      `features defaulted ${degraded}/${result.ok} (${whyDefaulted(reasons)}), over 100 ms ${over100ms} ${result.errorSamples[0] ?? ''}\n`,
  );
  return row;
}

// Each healthy phase starts once every Redis check in the fleet is ok again (the services' own, and the
// gateway's rate limits), so it measures the recovered fleet rather than the recovery.
const REDIS_CHECKS = new Set(['redis', 'online_store', 'rate-limits']);
const redisChecks = async (url: string): Promise<string[]> => {
  const res = await request(url, { dispatcher: http, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const body = (await res.body.json()) as {
    checks?: Record<string, { status: string }>;
    services?: Record<string, { checks: Record<string, { status: string }> }>;
  };
  const all = [body.checks ?? {}, ...Object.values(body.services ?? {}).map((s) => s.checks)];
  return all.flatMap((checks) =>
    Object.entries(checks)
      .filter(([name]) => REDIS_CHECKS.has(name))
      .map(([, c]) => c.status),
  );
};
const healthyAgain = async () => {
  proxy.restore();
  await eventually(
    async () => {
      const statuses = [
        ...(await redisChecks(`${fleet.gatewayUrl}/ready`)),
        ...(await redisChecks(`${fleet.gatewayUrl}/v1/fleet`)),
      ];
      return statuses.length >= 4 && statuses.every((s) => s === 'ok');
    },
    'every Redis check in the fleet to be ok',
    30_000,
    200,
  );
};

const phases: Phase[] = [];
await healthyAgain();
phases.push(await phase('healthy', () => undefined));
phases.push(await phase('Redis refusing connections', () => proxy.cut()));
await healthyAgain();
phases.push(await phase('healthy again', () => undefined));
phases.push(await phase('Redis silent (partition)', () => proxy.blackhole()));
await healthyAgain();
phases.push(await phase('healthy after the partition', () => undefined));
await undo.all();

const file = writeResult('outages', { rate, durationS, phases });
updateDocs(
  'outages',
  `Measured ${new Date().toISOString().slice(0, 10)} with \`pnpm turbo run build --filter=@regatta/bench... && node bench/dist/scenarios/outages.js --rate ${rate} --duration ${durationS}\`.
The distributed fleet (one process per service, a private nats-server, the machine's Postgres) reaches the machine's Redis through a
fault proxy; open-loop \`POST /v1/decisions\` at ${rate}/s (\`explain: false\`), ${durationS} s per phase, latency from each request's due
time. "Refusing": the proxy resets every connection (Redis stopped). "Silent": it holds every byte both ways (a partition). Before each
healthy phase the proxy forwards again and the run waits until every service reports Redis back. Raw data: \`bench/results/outages.json\`.

${table(
  [
    'phase',
    'offered/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'max ms',
    'over 100 ms',
    'errors',
    'HTTP statuses',
    'decided with default features (why)',
  ],
  phases.map((p) => [
    p.phase,
    p.offeredRps,
    p.latencyMs.p50,
    p.latencyMs.p90,
    p.latencyMs.p99,
    p.latencyMs.max,
    p.over100ms,
    p.errors,
    Object.entries(p.statuses)
      .map(([s, n]) => `${s} × ${n}`)
      .join(', '),
    `${p.degraded} of ${p.ok}${p.degraded > 0 ? ` (${whyDefaulted(p.reasons)})` : ''}`,
  ]),
)}`,
);
process.stdout.write(`results: ${file}\n`);
process.exit(0);
