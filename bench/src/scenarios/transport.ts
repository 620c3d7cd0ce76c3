// Round trip through the fleet's transport, each path beside the raw limit, in one run:
//   raw NATS request/reply (bare client -> bare responder)
//   RpcClient -> NATS -> RegattaServer (NestJS) in the features service
//   HTTP -> gateway -> NATS -> features service (GET /v1/fleet/features)
// Usage: pnpm --filter @regatta/bench build && node bench/dist/scenarios/transport.js [--rates 500,1000,2000] [--duration 10]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { HEALTH } from '@regatta/contracts';
import { DistributedFleet } from '@regatta/fleet';
import { NatsBus, RpcClient } from '@regatta/transport';
import { Agent, request } from 'undici';
import { cpuSeconds, pidListeningOn } from '../lib/cpu.js';
import { openLoop, type OpenLoopResult } from '../lib/open-loop.js';
import { repoRoot, table, updateDocs, writeResult } from '../lib/report.js';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '500,1000,2000' },
    duration: { type: 'string', default: '10' },
  },
});
const rates = values.rates.split(',').map(Number);
const durationS = Number(values.duration);
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const ADMIN_KEY = 'rg_bench_admin_key_0123456789abcdef';

interface Row extends OpenLoopResult {
  path: string;
  cpuUsPerReq: Record<string, number>;
}

async function measure(
  pathName: string,
  rate: number,
  pids: Record<string, number>,
  fire: (i: number) => Promise<void>,
): Promise<Row> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const result = await openLoop({ rate, durationS, warmupS: 1, fire, tickMs: 1 });
  const sent = result.sent + Math.round(rate); // CPU covers warm-up requests too
  const cpuUsPerReq = Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [k, ((cpuSeconds(pid) - before[k]!) * 1e6) / sent]),
  );
  const row = { path: pathName, ...result, cpuUsPerReq };
  process.stdout.write(
    `${pathName} @${rate}/s: p50 ${result.latencyMs.p50.toFixed(2)} ms p99 ${result.latencyMs.p99.toFixed(2)} ms achieved ${result.achievedRps.toFixed(0)}/s errors ${result.errors}\n`,
  );
  return row;
}

const responder = spawn(
  process.execPath,
  [path.join(repoRoot, 'bench/dist/scenarios/raw-responder.js'), 'bench.raw.v1'],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
await new Promise<void>((resolve) => responder.stdout.once('data', () => resolve()));
const fleet = await DistributedFleet.start({
  natsUrl,
  env: { LOG_LEVEL: 'warn', REGATTA_ADMIN_KEY: ADMIN_KEY },
});
const gateway = fleet.processes.find((p) => p.service === 'gateway')!;
const features = fleet.processes.find((p) => p.service === 'features')!;
const natsPid = pidListeningOn(4222);

const raw = await connect({ servers: natsUrl, noAsyncTraces: true, name: 'bench-raw-client' });
const bus = await NatsBus.connect({ url: natsUrl, name: 'bench-rpc-client' });
const rpc = new RpcClient({ bus, defaultTimeoutMs: 5_000 });
const http = new Agent({ connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
const payload = new TextEncoder().encode('{}');

const rows: Row[] = [];
for (const rate of rates) {
  const self = process.pid;
  const common = { bench: self, ...(natsPid ? { nats: natsPid } : {}) };
  rows.push(
    await measure('raw NATS request/reply', rate, { ...common, responder: responder.pid! }, async () => {
      await raw.request('bench.raw.v1', payload, { timeout: 5_000 });
    }),
  );
  rows.push(
    await measure(
      'RpcClient -> NATS -> service',
      rate,
      { ...common, service: features.child.pid! },
      async () => {
        await rpc.request(HEALTH.features, {});
      },
    ),
  );
  rows.push(
    await measure(
      'HTTP -> gateway -> NATS -> service',
      rate,
      { ...common, gateway: gateway.child.pid!, service: features.child.pid! },
      async () => {
        const res = await request(`${fleet.gatewayUrl}/v1/fleet/features`, {
          dispatcher: http,
          headers: { authorization: `Bearer ${ADMIN_KEY}` },
        });
        await res.body.dump();
        if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
      },
    ),
  );
}

await raw.drain();
await bus.close();
await http.close();
await fleet.stop();
responder.kill('SIGTERM');

const file = writeResult('transport', { durationS, rates, rows });
const cpu = (r: Row) =>
  Object.entries(r.cpuUsPerReq)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(', ');
updateDocs(
  'transport',
  `Measured ${new Date().toISOString().slice(0, 10)} with \`pnpm --filter @regatta/bench build && node bench/dist/scenarios/transport.js --rates ${values.rates} --duration ${durationS}\`
(open loop, latency from each request's due time, sends paced by a 1 ms timer so the generator does not spin a core; load generator, NATS and the fleet share this 2-core machine; raw data in \`bench/results/transport.json\`).

${table(
  ['path', 'offered/s', 'achieved/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'errors', 'CPU µs/request'],
  rows.map((r) => [
    r.path,
    r.offeredRps,
    Math.round(r.achievedRps),
    r.latencyMs.p50,
    r.latencyMs.p90,
    r.latencyMs.p99,
    r.latencyMs.p999,
    r.errors,
    cpu(r),
  ]),
)}`,
);
process.stdout.write(`results: ${file}\n`);
process.exit(0);
