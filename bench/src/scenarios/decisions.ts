// POST /v1/decisions against the distributed fleet (each service its own process over real NATS,
// Redis and Postgres), beside a bare Fastify route and a gateway route with no downstream call,
// all in one run at the same offered rates (open loop). Then the rate is raised until p99 passes
// 80 ms to find the highest rate that holds it.
// Usage: pnpm --filter @regatta/bench build && node bench/dist/scenarios/decisions.js [--rates 100,250,500] [--duration 20]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DistributedFleet } from '@regatta/fleet';
import { Agent, request } from 'undici';
import { cpuSeconds, pidListeningOn } from '../lib/cpu.js';
import { decisionBodies, postDecision } from '../lib/decision-call.js';
import { openLoop, type OpenLoopResult } from '../lib/open-loop.js';
import { repoRoot, table, updateDocs, writeResult } from '../lib/report.js';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '100,250,500' },
    duration: { type: 'string', default: '20' },
    search: { type: 'string', default: '750,1000,1250,1500' },
  },
});
const rates = values.rates.split(',').map(Number);
const searchRates = values.search.split(',').filter(Boolean).map(Number);
const durationS = Number(values.duration);
const ADMIN_KEY = 'rg_bench_admin_key_decisions_0123456789';

interface Row extends OpenLoopResult {
  target: string;
  cpuUsPerReq: Record<string, number>;
}

const bare = spawn(process.execPath, [path.join(repoRoot, 'bench/dist/scenarios/bare-fastify.js')], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const barePort = await new Promise<number>((resolve) =>
  bare.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
);

const fleet = await DistributedFleet.start({
  natsUrl: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  env: {
    LOG_LEVEL: 'warn',
    REGATTA_ADMIN_KEY: ADMIN_KEY,
    RATE_LIMIT_PER_S: '1000000',
    RATE_LIMIT_BURST: '1000000',
    MAX_IN_FLIGHT: '100000',
  },
});
const pids: Record<string, number> = Object.fromEntries(
  fleet.processes.map((p) => [p.service, p.child.pid!]),
);
const natsPid = pidListeningOn(4222);
const pgPid = pidListeningOn(5432);
if (natsPid) pids.nats = natsPid;
if (pgPid) pids.postgres = pgPid;

const http = new Agent({ connections: 512, pipelining: 1, keepAliveTimeout: 30_000 });
const created = await request(`${fleet.gatewayUrl}/v1/admin/keys`, {
  dispatcher: http,
  method: 'POST',
  headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
  body: JSON.stringify({ tenant: 'bench', scopes: ['decisions:write'] }),
});
const key = ((await created.body.json()) as { key: string }).key;

const bodies = decisionBodies(1000);

async function get(url: string, headers: Record<string, string> = {}): Promise<void> {
  const res = await request(url, { dispatcher: http, headers });
  await res.body.dump();
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
}

async function decide(i: number): Promise<void> {
  const { status, text } = await postDecision(fleet.gatewayUrl, key, bodies[i % bodies.length]!, http);
  if (status !== 200) throw new Error(`HTTP ${status} ${text.slice(0, 120)}`);
}

async function measure(
  target: string,
  rate: number,
  fire: (i: number) => Promise<void>,
  cpuOf: Record<string, number>,
): Promise<Row> {
  const before = Object.fromEntries(Object.entries(cpuOf).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const result = await openLoop({ rate, durationS, warmupS: 2, fire, tickMs: 1 });
  const sent = result.sent + 2 * rate;
  const cpuUsPerReq = Object.fromEntries(
    Object.entries(cpuOf).map(([k, pid]) => [k, ((cpuSeconds(pid) - before[k]!) * 1e6) / sent]),
  );
  process.stdout.write(
    `${target} @${rate}/s: p50 ${result.latencyMs.p50.toFixed(2)} p99 ${result.latencyMs.p99.toFixed(2)} ms, achieved ${result.achievedRps.toFixed(0)}/s, errors ${result.errors} ${result.errorSamples[0] ?? ''}\n`,
  );
  return { target, ...result, cpuUsPerReq };
}

const rows: Row[] = [];
for (const rate of rates) {
  rows.push(
    await measure('bare Fastify route (own process)', rate, () => get(`http://127.0.0.1:${barePort}/bare`), {
      bench: process.pid,
      bare: bare.pid!,
    }),
  );
  rows.push(
    await measure('gateway GET /health (no downstream)', rate, () => get(`${fleet.gatewayUrl}/health`), {
      bench: process.pid,
      gateway: pids.gateway!,
    }),
  );
  rows.push(await measure('POST /v1/decisions', rate, decide, { bench: process.pid, ...pids }));
}
// The highest offered rate at which decisions keep p99 under 80 ms and errors under 0.1%.
const search: Row[] = [];
let highest = Math.max(
  ...rates.filter((r) =>
    rows.some(
      (x) =>
        x.target === 'POST /v1/decisions' &&
        x.offeredRps === r &&
        x.latencyMs.p99 < 80 &&
        x.errors <= x.sent * 0.001,
    ),
  ),
  0,
);
for (const rate of searchRates) {
  const row = await measure('POST /v1/decisions', rate, decide, { bench: process.pid, ...pids });
  search.push(row);
  if (row.latencyMs.p99 >= 80 || row.errors > row.sent * 0.001 || row.achievedRps < rate * 0.95) break;
  highest = rate;
}

await http.close();
await fleet.stop();
bare.kill('SIGTERM');

const file = writeResult('decisions', {
  durationS,
  rates,
  rows,
  search,
  highest_rate_p99_under_80ms: highest,
});
const cpu = (r: Row) =>
  Object.entries(r.cpuUsPerReq)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(', ');
const fmt = (list: Row[]) =>
  table(
    [
      'target',
      'offered/s',
      'achieved/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p99.9 ms',
      'errors',
      'CPU µs/request by process',
    ],
    list.map((r) => [
      r.target,
      r.offeredRps,
      Math.round(r.achievedRps),
      r.latencyMs.p50,
      r.latencyMs.p90,
      r.latencyMs.p99,
      r.latencyMs.p999,
      r.errors,
      cpu(r),
    ]),
  );
updateDocs(
  'decisions',
  `Measured ${new Date().toISOString().slice(0, 10)} with \`pnpm --filter @regatta/bench build && node bench/dist/scenarios/decisions.js --rates ${values.rates} --duration ${durationS} --search ${values.search}\`.
Open loop (latency from each request's due time; sends paced by a 1 ms timer, so the generator does not spin a core). The distributed fleet runs one process per service over the
machine's NATS, Redis and Postgres; the load generator, the fleet and those servers share this 2-core machine.
Decisions vary customer, merchant and amount (no LLM explanation: \`explain: false\`). Raw data: \`bench/results/decisions.json\`.

${fmt(rows)}

Raising the rate (${durationS} s each, stops at the first rate that misses p99 < 80 ms, 0.1% errors or 95% of the offered rate):

${fmt(search)}

**Highest rate with decision p99 under 80 ms: ${highest}/s.**`,
);
process.stdout.write(`results: ${file}\nhighest rate with p99 < 80 ms: ${highest}/s\n`);
process.exit(0);
