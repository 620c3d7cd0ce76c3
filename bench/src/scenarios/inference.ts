// Inference throughput and latency over real NATS, each figure beside its limit, in one run:
//   the raw limit: onnxruntime in the engine's own worker thread, batches back to back;
//   the inference service with INFERENCE_MAX_BATCH_ROWS=1 (unbatched) and with batching (256),
//   each at 1, 16, 64 and 256 concurrent callers (closed loop: each caller sends its next request
//   when the previous one is answered), one fraud-model row per request, prediction cache off.
// Usage: pnpm turbo run build --filter=@regatta/bench... && node bench/dist/scenarios/inference.js [--callers 1,16,64,256] [--duration 5]
//          [--model fraud|wide] [--hidden 1024,1024] [--workers N]
// --model wide serves a compute-bound MLP (apps/inference/training/wide-model.ts, 15 inputs, Relu layers of the
// --hidden widths, untrained weights) from a temporary model repository instead of the fraud model, so the run
// shows what batching gains when running the model is the work; results go to bench/results/inference-wide.json
// and their own section of docs/benchmarks.md.
// NATS_URL picks a NATS server; without it a private nats-server is started, so no other fleet on
// the machine answers inference.predict.v1 in the service's queue group during the run.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { connect } from '@nats-io/transport-node';
import { INFERENCE } from '@regatta/contracts';
import { STATUS_HEADER } from '@regatta/transport';
import { PrivateServer } from '@regatta/testing';
import { cpuSeconds } from '../lib/cpu.js';
import { repoRoot, table, updateDocs, writeResult } from '../lib/report.js';
import { summarize, type LatencySummary } from '../lib/stats.js';
import {
  type InferenceProcess,
  startInferenceService,
  stopInferenceService,
  wideModelTools,
} from '../lib/inference-service.js';
import { ReplyMux } from '../lib/reply-mux.js';
import { Undo } from '../lib/undo.js';

const { values } = parseArgs({
  options: {
    callers: { type: 'string', default: '1,16,64,256' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    model: { type: 'string', default: 'fraud' },
    hidden: { type: 'string', default: '1024,1024' },
    /** Inference worker threads of the service; cores − 1 (the service's own default) when omitted. */
    workers: { type: 'string' },
    /**
     * How the callers send: `mux` (default) through a ReplyMux (one reply subscription, no timer per
     * request), `request` through nats.js's own `nc.request` (a promise chain and a timer per request).
     */
    requester: { type: 'string', default: 'mux' },
  },
});
if (values.requester !== 'mux' && values.requester !== 'request')
  throw new Error('--requester is mux or request');
if (values.model !== 'fraud' && values.model !== 'wide') throw new Error('--model is fraud or wide');
const MODEL = values.model;
const levels = values.callers.split(',').map(Number);
const durationS = Number(values.duration);
const warmupS = Number(values.warmup);
const BATCHES = [1, 16, 64, 256];
const COLS = 15;
const HIDDEN = values.hidden.split(',').map(Number);
const undo = new Undo();
/** The model repository the service serves: the repo's own, or a temporary one holding the wide model. */
const MODEL_DIR =
  MODEL === 'fraud'
    ? path.join(repoRoot, 'apps/inference/models')
    : mkdtempSync(path.join(tmpdir(), 'regatta-bench-wide-'));
if (MODEL !== 'fraud')
  undo.push('the wide model repository', () => rmSync(MODEL_DIR, { recursive: true, force: true }));
let macsPerRow = COLS;
if (MODEL === 'wide') {
  const wide = await wideModelTools();
  const options = { inputs: COLS, hidden: HIDDEN, seed: 7 };
  wide.writeWideModel(MODEL_DIR, 'wide', options);
  macsPerRow = wide.wideModelMacsPerRow(options);
}
const RESULT_NAME = MODEL === 'fraud' ? 'inference' : 'inference-wide';
const MODEL_TEXT =
  MODEL === 'fraud'
    ? 'fraud-model'
    : `wide-model (MLP ${[COLS, ...HIDDEN, 1].join('-')}, ${(macsPerRow / 1e6).toFixed(2)} M multiply-adds per row)`;
const ENGINE_DIST = path.join(repoRoot, 'apps/inference/dist/engine');
/** The service's default: one worker per core, leaving one core to the main thread. */
const WORKERS = values.workers ? Number(values.workers) : Math.max(1, cpus().length - 1);
if (!Number.isInteger(WORKERS) || WORKERS < 1) throw new Error('--workers is a positive integer');

/** Deterministic, plausible-looking fraud rows (values only need to be finite and varied). */
function rows(count: number): number[][] {
  let s = 0x9e3779b9;
  const next = () => (s = (Math.imul(s ^ (s >>> 15), 0x85ebca6b) + 0x632be59b) >>> 0) / 2 ** 32;
  return Array.from({ length: count }, () =>
    Array.from({ length: COLS }, (_, c) => Math.round(next() * (c === 0 ? 50_000 : 100)) / 100),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// The limit: the engine's worker script, the engine's session options, batches back to back.

interface RawRow {
  batch: number;
  runs: number;
  /** Rows per second of time spent inside onnxruntime's run (the worker's own measurement). */
  ortRowsPerS: number;
  ortUsPerRun: number;
  /** Rows per second including the hand-over to and from the worker, with an idle main thread. */
  roundTripRowsPerS: number;
  roundTripUsPerRun: number;
}

async function rawLimit(seconds: number): Promise<RawRow[]> {
  const { DEFAULT_SESSION_OPTIONS } = (await import(
    pathToFileURL(path.join(ENGINE_DIST, 'worker-pool.js')).href
  )) as {
    DEFAULT_SESSION_OPTIONS: Record<string, unknown>;
  };
  const key = `${MODEL}:1`;
  const worker = new Worker(path.join(ENGINE_DIST, 'inference-worker.mjs'), {
    workerData: {
      models: [
        {
          key,
          path: path.join(MODEL_DIR, MODEL, '1/model.onnx'),
          inputs: [{ name: 'features', cols: COLS, rank: 2 }],
          outputs: ['score'],
        },
      ],
      sessionOptions: DEFAULT_SESSION_OPTIONS,
    },
  });
  type Reply = { type: string; id?: number; computeMs?: number; message?: string };
  const [ready] = (await once(worker, 'message')) as [Reply];
  if (ready.type !== 'ready') throw new Error(`inference worker failed: ${ready.message}`);
  let id = 0;
  const run = (template: Float32Array, batch: number) =>
    new Promise<number>((resolve, reject) => {
      const mine = ++id;
      const onMessage = (m: Reply) => {
        if (m.id !== mine) return;
        worker.off('message', onMessage);
        if (m.type === 'result') resolve(m.computeMs!);
        else reject(new Error(m.message));
      };
      worker.on('message', onMessage);
      const data = template.slice();
      worker.postMessage({ type: 'run', id: mine, key, rows: batch, buffer: data.buffer }, [data.buffer]);
    });
  const out: RawRow[] = [];
  for (const batch of BATCHES) {
    const template = Float32Array.from(rows(batch).flat());
    for (let i = 0; i < 200; i++) await run(template, batch);
    let runs = 0;
    let computeMs = 0;
    const started = performance.now();
    while (performance.now() - started < seconds * 1000) {
      computeMs += await run(template, batch);
      runs++;
    }
    const wallMs = performance.now() - started;
    out.push({
      batch,
      runs,
      ortRowsPerS: (runs * batch) / (computeMs / 1000),
      ortUsPerRun: (computeMs * 1000) / runs,
      roundTripRowsPerS: (runs * batch) / (wallMs / 1000),
      roundTripUsPerRun: (wallMs * 1000) / runs,
    });
    process.stdout.write(
      `raw batch ${batch}: onnxruntime ${(out.at(-1)!.ortRowsPerS / 1e6).toFixed(2)} M rows/s, round trip ${(out.at(-1)!.roundTripRowsPerS / 1e3).toFixed(0)} k rows/s\n`,
    );
  }
  worker.postMessage({ type: 'stop' });
  await once(worker, 'exit');
  return out;
}

// ---------------------------------------------------------------------------------------------
// The service: one process from its bundle (apps/inference/dist/bundle/main.mjs), scraped on its admin port.

interface Scrape {
  rows: number;
  executions: number;
  /** Cumulative `inference_request_duration_seconds` buckets (le -> count). */
  duration: Map<number, number>;
  lagP99: number;
  lagMax: number;
}

function metricValue(text: string, name: string, match = ''): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || !line.includes(match)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

async function scrape(port: number): Promise<Scrape> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const duration = new Map<number, number>();
  for (const line of text.split('\n')) {
    const m = /^inference_request_duration_seconds_bucket\{(.*)\} (\S+)$/.exec(line);
    const le = m && /le="([^"]+)"/.exec(m[1]!)?.[1];
    if (!m || !le || !m[1]!.includes(`model="${MODEL}"`)) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    duration.set(bound, (duration.get(bound) ?? 0) + Number(m[2]));
  }
  return {
    rows: metricValue(text, 'inference_rows_total'),
    executions: metricValue(text, 'inference_executions_total'),
    duration,
    lagP99: metricValue(text, 'event_loop_lag_seconds', 'stat="p99"'),
    lagMax: metricValue(text, 'event_loop_lag_seconds', 'stat="max"'),
  };
}

/** The smallest bucket bound under which 95% of the window's successful requests completed. */
function histogramP95(before: Scrape, after: Scrape): number {
  const bounds = [...after.duration.keys()].sort((a, b) => a - b);
  const count =
    (after.duration.get(Number.POSITIVE_INFINITY) ?? 0) -
    (before.duration.get(Number.POSITIVE_INFINITY) ?? 0);
  if (count <= 0) return Number.NaN;
  for (const le of bounds) {
    const n = (after.duration.get(le) ?? 0) - (before.duration.get(le) ?? 0);
    if (n >= 0.95 * count) return le * 1000;
  }
  return Number.POSITIVE_INFINITY;
}

async function startResponder(natsUrl: string, reply: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [path.join(repoRoot, 'bench/dist/scenarios/raw-responder.js'), INFERENCE.predict.subject],
    {
      env: { PATH: process.env.PATH ?? '', NATS_URL: natsUrl, RAW_REPLY: reply, RAW_PARSE: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  undo.push('the bare responder', () => child.kill('SIGTERM'));
  await once(child.stdout, 'data');
  return child;
}

interface LevelRow {
  mode: 'bare responder' | 'unbatched' | 'batched';
  callers: number;
  requests: number;
  errors: number;
  errorSamples: string[];
  rps: number;
  rowsPerS: number;
  latencyMs: LatencySummary & { p95: number };
  meanBatchRows: number;
  /** Service-side `inference_request_duration_seconds` p95 (queue + compute), as a bucket bound in ms. */
  serviceP95Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  /** The same lag measured by an idle process beside the run (lag-probe.js): what scheduling alone costs. */
  probeLagP99Ms: number;
  probeLagMaxMs: number;
  /** CPU used per second of the window, in cores. */
  cpuCores: Record<string, number>;
}

type NatsConnection = Awaited<ReturnType<typeof connect>>;

async function measure(
  nc: NatsConnection,
  service: InferenceProcess | undefined,
  mode: LevelRow['mode'],
  callers: number,
  payloads: Uint8Array[],
  pids: Record<string, number>,
): Promise<LevelRow> {
  const samples: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let completed = 0;
  let measuring = false;
  let stop = false;
  let next = 0;
  const caller = async (id: number) => {
    while (!stop) {
      const payload = payloads[next++ % payloads.length]!;
      const counted = measuring;
      const t0 = performance.now();
      try {
        const reply = mux
          ? await mux.request(id, INFERENCE.predict.subject, payload)
          : await nc.request(INFERENCE.predict.subject, payload, { timeout: 5_000 });
        if (reply.headers?.get(STATUS_HEADER) === 'error')
          throw new Error(new TextDecoder().decode(reply.data));
        if (counted && measuring) {
          samples.push(performance.now() - t0);
          completed++;
        }
      } catch (err) {
        if (counted && measuring) {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(err instanceof Error ? err.message : String(err));
        }
      }
    }
  };
  const running = Array.from({ length: callers }, (_, id) => caller(id));
  await sleep(warmupS * 1000);
  const before = service && (await scrape(service.port));
  probe.send('reset');
  const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const started = performance.now();
  measuring = true;
  await sleep(durationS * 1000);
  measuring = false;
  const elapsedS = (performance.now() - started) / 1000;
  const cpuCores = Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [k, (cpuSeconds(pid) - cpuBefore[k]!) / elapsedS]),
  );
  const after = service && (await scrape(service.port));
  const probeLag = await probeReport();
  stop = true;
  await Promise.all(running);

  const summary = summarize(samples);
  const sorted = Float64Array.from(samples).sort();
  const p95 = sorted.length
    ? sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!
    : Number.NaN;
  const row: LevelRow = {
    mode,
    callers,
    requests: completed,
    errors,
    errorSamples,
    rps: completed / elapsedS,
    rowsPerS: completed / elapsedS,
    latencyMs: { ...summary, p95 },
    meanBatchRows:
      before && after
        ? (after.rows - before.rows) / Math.max(1, after.executions - before.executions)
        : Number.NaN,
    serviceP95Ms: before && after ? histogramP95(before, after) : Number.NaN,
    lagP99Ms: after ? after.lagP99 * 1000 : Number.NaN,
    lagMaxMs: after ? after.lagMax * 1000 : Number.NaN,
    probeLagP99Ms: probeLag.p99Ms,
    probeLagMaxMs: probeLag.maxMs,
    cpuCores,
  };
  process.stdout.write(
    `${mode} x${callers}: ${row.rps.toFixed(0)} req/s p50 ${summary.p50.toFixed(2)} ms p99 ${summary.p99.toFixed(2)} ms batch ${row.meanBatchRows.toFixed(1)} lag p99 ${row.lagP99Ms.toFixed(2)} ms (idle probe ${row.probeLagP99Ms.toFixed(2)} ms) errors ${errors}\n`,
  );
  return row;
}

// ---------------------------------------------------------------------------------------------

const loadBefore = loadavg();
let natsServer: PrivateServer | undefined;
let natsUrl = process.env.NATS_URL;
if (!natsUrl) {
  const server = await PrivateServer.start('nats');
  undo.push('the private nats-server', () => server.kill());
  natsServer = server;
  natsUrl = server.url;
}
const nc = await connect({ servers: natsUrl, noAsyncTraces: true, name: 'bench-inference' });
undo.push('the NATS connection', () => !nc.isClosed() && nc.drain());
const mux = values.requester === 'mux' ? new ReplyMux(nc) : undefined;
if (mux) undo.push('the reply subscription', () => mux.close());
const probe = fork(path.join(repoRoot, 'bench/dist/scenarios/lag-probe.js'), [], { stdio: 'inherit' });
undo.push('the lag probe', () => probe.connected && probe.disconnect());
await once(probe, 'message');
const probeReport = async (): Promise<{ p99Ms: number; maxMs: number }> => {
  const answer = once(probe, 'message');
  probe.send('report');
  const [report] = (await answer) as [{ p99Ms: number; maxMs: number }];
  return report;
};
const encoder = new TextEncoder();
const payloads = rows(4096).map((row) =>
  encoder.encode(JSON.stringify({ model: MODEL, rows: [row], cache: false })),
);

const raw = await rawLimit(2);
const results: LevelRow[] = [];
let serviceReply: Uint8Array | undefined;
for (const [mode, maxBatchRows] of [
  ['unbatched', '1'],
  ['batched', '256'],
] as const) {
  const service = await startInferenceService({
    natsUrl,
    repository: MODEL_DIR,
    workers: WORKERS,
    env: { INFERENCE_MAX_BATCH_ROWS: maxBatchRows },
    // e.g. BENCH_SERVICE_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the service under this load.
    nodeArgs: process.env.BENCH_SERVICE_NODE_ARGS?.split(' ').filter(Boolean),
    // BENCH_SERVICE_ENTRY runs another build of the service (an older bundle kept under apps/inference, so
    // that its packages resolve), for A/B runs of one change.
    entry: process.env.BENCH_SERVICE_ENTRY,
    undo,
  });
  serviceReply ??= (await nc.request(INFERENCE.predict.subject, payloads[0], { timeout: 5_000 })).data;
  const pids: Record<string, number> = { service: service.child.pid!, bench: process.pid };
  if (natsServer?.pid) pids.nats = natsServer.pid;
  for (const callers of levels) results.push(await measure(nc, service, mode, callers, payloads, pids));
  await stopInferenceService(service);
}

// The ceiling of one row per request over NATS on this machine: a bare nats.js responder that parses
// each request and answers with the service's own reply bytes, driven by the same callers.
const responder = await startResponder(natsUrl, new TextDecoder().decode(serviceReply));
{
  const pids: Record<string, number> = { service: responder.pid!, bench: process.pid };
  if (natsServer?.pid) pids.nats = natsServer.pid;
  for (const callers of levels)
    results.push(await measure(nc, undefined, 'bare responder', callers, payloads, pids));
}
responder.kill('SIGTERM');
await once(responder, 'exit');
await undo.all();
const loadAfter = loadavg();

const file = writeResult(RESULT_NAME, {
  model: MODEL_TEXT,
  durationS,
  warmupS,
  levels,
  loadavg: { before: loadBefore, after: loadAfter },
  nats: process.env.NATS_URL ? 'NATS_URL' : 'private nats-server',
  raw,
  rows: results,
});

// --- the report ------------------------------------------------------------------------------
const ms = (v: number) => (Number.isFinite(v) ? v : '—');
const byKey = (mode: LevelRow['mode'], callers: number) =>
  results.find((r) => r.mode === mode && r.callers === callers);
const limit = raw.find((r) => r.batch === 256)!;
const goals: string[] = [];
for (const callers of levels.filter((c) => c >= 64)) {
  const b = byKey('batched', callers);
  const u = byKey('unbatched', callers);
  if (!b || !u) continue;
  const ratio = b.rowsPerS / u.rowsPerS;
  const share = b.rowsPerS / limit.ortRowsPerS;
  const bare = byKey('bare responder', callers);
  const ceiling = bare
    ? ` The bare NATS responder reaches ${Math.round(bare.rowsPerS)} rows/s with these callers: batched is **${((100 * b.rowsPerS) / bare.rowsPerS).toFixed(0)}%** of it, and 10× unbatched (${Math.round(10 * u.rowsPerS)} rows/s) is ${((10 * u.rowsPerS) / bare.rowsPerS).toFixed(1)}× what NATS alone carries here.`
    : '';
  goals.push(
    `- ${callers} callers: batched/unbatched = **${ratio.toFixed(2)}×** (goal ≥ 10×: ${ratio >= 10 ? 'met' : 'missed'}); batched = **${(share * 100).toFixed(2)}%** of the raw limit at batch 256 (goal ≥ 50%: ${share >= 0.5 ? 'met' : 'missed'}).${ceiling}`,
  );
}
const one = [byKey('batched', 1), byKey('unbatched', 1)];
if (one[0] && one[1]) {
  const added = one[0].latencyMs.p50 - one[1].latencyMs.p50;
  goals.push(
    `- 1 caller: batching adds **${added.toFixed(3)} ms** p50 (goal ≤ 0.2 ms: ${added <= 0.2 ? 'met' : 'missed'}).`,
  );
}
const full = results.filter((r) => r.callers === Math.max(...levels) && r.mode !== 'bare responder');
goals.push(
  `- Main-thread event-loop lag at ${Math.max(...levels)} callers: p99 ${full.map((r) => `${r.mode} ${r.lagP99Ms.toFixed(2)} ms (an idle process beside it: ${r.probeLagP99Ms.toFixed(2)} ms)`).join(', ')} (goal < 5 ms: ${full.every((r) => r.lagP99Ms < 5) ? 'met' : 'missed'}).`,
);
const slow = results.filter((r) => r.mode !== 'bare responder' && !(r.latencyMs.p95 < 50));
goals.push(
  `- Inference p95 under 50 ms: ${slow.length === 0 ? 'met at every load tested' : `missed at ${slow.map((r) => `${r.mode} x${r.callers} (${r.latencyMs.p95.toFixed(1)} ms)`).join(', ')}`}.`,
);

updateDocs(
  RESULT_NAME,
  `Measured ${new Date().toISOString().slice(0, 10)} with \`pnpm turbo run build --filter=@regatta/bench... && node bench/dist/scenarios/inference.js --callers ${values.callers} --duration ${durationS}${MODEL === 'fraud' ? '' : ` --model ${MODEL} --hidden ${values.hidden}`}${values.workers ? ` --workers ${WORKERS}` : ''}\`
(closed loop: each caller sends its next request when the last is answered; one ${MODEL_TEXT} row per request, prediction cache off;
${process.env.NATS_URL ? 'NATS at NATS_URL' : 'a private nats-server'}; the service (main thread + ${WORKERS} inference worker${WORKERS === 1 ? '' : 's'}), NATS and the load generator share this ${cpus().length}-core machine,
whose 1/5/15-minute load average was ${loadBefore.map((l) => l.toFixed(1)).join(' / ')} before the run and ${loadAfter.map((l) => l.toFixed(1)).join(' / ')} after; raw data in \`bench/results/${RESULT_NAME}.json\`).

**The limit**: onnxruntime in the engine's own worker (\`inference-worker.mjs\`, the engine's session options), one batch after another.

${table(
  [
    'batch rows',
    'onnxruntime µs/run',
    'onnxruntime rows/s',
    'with worker hand-over µs/run',
    'with hand-over rows/s',
  ],
  raw.map((r) => [
    r.batch,
    r.ortUsPerRun,
    Math.round(r.ortRowsPerS),
    r.roundTripUsPerRun,
    Math.round(r.roundTripRowsPerS),
  ]),
)}

**The service over NATS** (\`INFERENCE_MAX_BATCH_ROWS=1\` is unbatched; batched is the default 256, \`INFERENCE_MAX_WAIT_MS=0\`),
and the ceiling for one row per request over NATS here: a **bare responder** (\`raw-responder.js\`: nats.js, no framework) that
parses each request and answers with the service's own reply bytes, driven by the same callers; CPU "service" is then the responder.
Latencies are seen by the caller; "service p95" is \`inference_request_duration_seconds\` (queue + compute) as a bucket bound;
lag is the service main thread's \`event_loop_lag_seconds\` over the window, beside the same figure from an idle process
(\`lag-probe.js\`) that shows what waiting for a core costs any process at that load; CPU is cores used.

${table(
  [
    'mode',
    'callers',
    'rows/s',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'mean batch',
    'service p95 ms',
    'lag p99 ms',
    'lag max ms',
    'idle probe lag p99 / max ms',
    'errors',
    'CPU service / nats / bench',
  ],
  results.map((r) => [
    r.mode,
    r.callers,
    Math.round(r.rowsPerS),
    r.latencyMs.p50,
    r.latencyMs.p95,
    r.latencyMs.p99,
    ms(r.meanBatchRows),
    Number.isNaN(r.serviceP95Ms) ? '—' : `≤ ${ms(r.serviceP95Ms)}`,
    ms(r.lagP99Ms),
    ms(r.lagMaxMs),
    `${r.probeLagP99Ms.toFixed(2)} / ${r.probeLagMaxMs.toFixed(2)}`,
    r.errors,
    `${(r.cpuCores.service ?? 0).toFixed(2)} / ${(r.cpuCores.nats ?? 0).toFixed(2)} / ${(r.cpuCores.bench ?? 0).toFixed(2)}`,
  ]),
)}

Goals:
${goals.join('\n')}`,
);
process.stdout.write(`results: ${file}\n`);
process.exit(0);
