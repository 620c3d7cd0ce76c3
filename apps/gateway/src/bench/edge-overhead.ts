// What the gateway's edge costs: a bare Fastify route against gateway routes that make no
// downstream call, open loop, in one run. The servers run in this process; the load generator runs
// in a child process so it does not share their event loop.
//
//   pnpm --filter @regatta/gateway build && node apps/gateway/dist/bench/edge-overhead.js [rate] [seconds]
import 'reflect-metadata';
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { loadConfig } from '@regatta/config';
import { configureLogging } from '@regatta/telemetry';
import { InProcessBus } from '@regatta/transport';
import Fastify from 'fastify';
import { z } from 'zod';
import { type ApiKeyStore } from '../auth/key-store.js';
import { gatewayEnv } from '../config.js';
import { Schema, Scopes } from '../edge/route-meta.js';
import { createGateway } from '../service.js';

const KEY = 'rg_bench_admin_key_0123456789abcdefghijkl';
const Scored = z.object({ customer_id: z.string().max(64), amount: z.number().min(0) });

/** A route doing what a real one does at the edge (key, limit, scope, schema) and nothing after. */
@Controller('v1/bench')
class BenchController {
  @Post('echo')
  @HttpCode(200)
  @Scopes('predict')
  @Schema({ body: Scored })
  echo(@Body() body: z.infer<typeof Scored>) {
    return { customer_id: body.customer_id, ok: true };
  }
}

// Only the bootstrap key is used, which never reaches the store.
const noKeys: ApiKeyStore = {
  insert: () => Promise.reject(new Error('read-only')),
  findActiveByHash: () => Promise.resolve(undefined),
  get: () => Promise.resolve(undefined),
  list: () => Promise.resolve([]),
  revoke: () => Promise.resolve(undefined),
};

interface Target {
  name: string;
  method: 'GET' | 'POST';
  port: number;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface Row {
  name: string;
  /** CPU time of the server process per request (user + system), µs. */
  cpuUs?: number;
  offered: number;
  achieved: number;
  ok: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Open loop: request i is due at start + i/rate, sent then, and timed from then. */
async function load(target: Target, rate: number, seconds: number): Promise<Row> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const warmup = rate; // one second, not measured
  const total = warmup + rate * seconds;
  const latencies: number[] = [];
  let errors = 0;
  let firstDue = 0;
  let lastDone = 0;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  const fire = (due: number, measured: boolean) =>
    new Promise<void>((resolve) => {
      const req = request(
        {
          agent,
          host: '127.0.0.1',
          port: target.port,
          method: target.method,
          path: target.path,
          headers: target.headers,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const done = performance.now();
            lastDone = done;
            if (measured) {
              if (res.statusCode === 200) latencies.push(done - due);
              else errors++;
            }
            resolve();
          });
        },
      );
      req.on('error', () => {
        if (measured) errors++;
        resolve();
      });
      req.end(target.body);
    });
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && start + (next * 1000) / rate <= now) {
        const due = start + (next * 1000) / rate;
        if (next === warmup) firstDue = due;
        pending.push(fire(due, next >= warmup));
        next++;
      }
      if (next < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    name: target.name,
    offered: rate,
    achieved: Math.round((latencies.length + errors) / ((lastDone - firstDue) / 1000)),
    ok: latencies.length,
    errors,
    p50: round(percentile(latencies, 50)),
    p90: round(percentile(latencies, 90)),
    p99: round(percentile(latencies, 99)),
    p999: round(percentile(latencies, 99.9)),
    max: round(latencies.at(-1) ?? Number.NaN),
  };
}

async function serve(rate: number, seconds: number): Promise<void> {
  configureLogging({ level: 'warn' });
  const bare = Fastify();
  bare.get('/bare', () => ({ status: 'ok' }));
  await bare.listen({ port: 0, host: '127.0.0.1' });
  const barePort = (bare.server.address() as { port: number }).port;

  const bus = new InProcessBus();
  const gateway = await createGateway({
    bus,
    config: loadConfig(gatewayEnv, {
      ENVIRONMENT: 'test',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      REGATTA_ADMIN_KEY: KEY,
      RATE_LIMIT_PER_S: '1000000',
      RATE_LIMIT_BURST: '1000000',
    }),
    port: 0,
    keyStore: noKeys,
    controllers: [BenchController],
  });

  const body = JSON.stringify({ customer_id: 'c0001', amount: 42.5 });
  const targets: Target[] = [
    { name: 'bare Fastify `GET /bare`', method: 'GET', port: barePort, path: '/bare', headers: {} },
    {
      name: 'gateway `GET /health` (public)',
      method: 'GET',
      port: gateway.port,
      path: '/health',
      headers: {},
    },
    {
      name: 'gateway `POST /v1/bench/echo` (key, rate limit, scope, schema)',
      method: 'POST',
      port: gateway.port,
      path: '/v1/bench/echo',
      headers: {
        authorization: `Bearer ${KEY}`,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
    },
  ];
  const child = fork(fileURLToPath(import.meta.url), ['--load'], { stdio: 'inherit' });
  const rows: Row[] = [];
  for (const target of targets) {
    const before = process.cpuUsage();
    child.send({ target, rate, seconds });
    const row = await new Promise<Row>((resolve) => child.once('message', (m) => resolve(m as Row)));
    const cpu = process.cpuUsage(before);
    // Warm-up requests are served too, so they count in the CPU per request.
    rows.push({ ...row, cpuUs: Math.round((cpu.user + cpu.system) / (rate * (seconds + 1))) });
  }
  child.kill();

  process.stdout.write(
    `\nOpen loop, ${rate} req/s for ${seconds} s per row after 1 s of warm-up; latency from each request's due time (ms).\n\n` +
      '| route | offered/s | achieved/s | ok | errors | p50 | p90 | p99 | p99.9 | max | server CPU µs/request |\n|---|---|---|---|---|---|---|---|---|---|---|\n' +
      rows
        .map(
          (r) =>
            `| ${r.name} | ${r.offered} | ${r.achieved} | ${r.ok} | ${r.errors} | ${r.p50} | ${r.p90} | ${r.p99} | ${r.p999} | ${r.max} | ${r.cpuUs} |`,
        )
        .join('\n') +
      '\n',
  );
  await gateway.close();
  await bus.close();
  await bare.close();
}

if (process.argv.includes('--load')) {
  process.on('message', (m) => {
    const { target, rate, seconds } = m as { target: Target; rate: number; seconds: number };
    void load(target, rate, seconds).then((row) => process.send!(row));
  });
} else {
  const rate = Number(process.argv[2] ?? 1_000);
  const seconds = Number(process.argv[3] ?? 20);
  await serve(rate, seconds);
}
