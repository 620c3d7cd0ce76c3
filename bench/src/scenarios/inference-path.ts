// The inference service's own request path, without NATS: the service runs in this process on a bus that
// hands each message straight to its transport server, with its real engine (worker thread, onnxruntime,
// micro-batcher), validation, metrics and JSON on both sides. Closed loop: each caller sends its next request
// once the last is answered. For each batch limit (1 = unbatched) and caller count: requests/s, the main
// thread's busy time per request (event-loop utilisation: JavaScript and native work on the thread that
// would also do the NATS I/O), CPU per request of the whole process (worker included) and the event-loop
// delay. A floor row answers every message at once with the service's reply bytes: the cost of this load
// generator. A hand-over row sends every message to a worker thread that answers at once, as the engine's
// worker answers a batch (a transferred buffer each way), and replies when the answer is back: what one
// hand-over costs the main thread. Rounds alternate the configurations; medians are shown.
//
// Why: batched / unbatched throughput is bounded by (c + B) / (c + B / n), where c is what one request costs
// the main thread, B what one batch costs it (hand-over to the worker and back) and n the mean batch size.
// Over NATS both carry the transport's costs too; this run shows the service's share alone.
// Usage: pnpm turbo run build --filter=@regatta/bench... && node bench/dist/scenarios/inference-path.js
//          [--callers 1,64,256] [--seconds 4] [--rounds 3]
import 'reflect-metadata';
import path from 'node:path';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { loadConfig } from '@regatta/config';
import { type DependencyCheck } from '@regatta/contracts';
import { createInferenceService, inferenceEnv, type RunningInference } from '@regatta/inference';
import { type Bus, type IncomingMessage } from '@regatta/transport';
import { repoRoot, table, updateDocs, writeResult } from '../lib/report.js';
import { median } from '../lib/stats.js';

const { values } = parseArgs({
  options: {
    callers: { type: 'string', default: '1,64,256' },
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
  },
});
const CALLERS = values.callers.split(',').map(Number);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
if (CALLERS.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--callers are positive integers');
if (!(SECONDS > 0)) throw new Error('--seconds is a positive number');
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds is a positive integer');
const WARMUP_MS = 500;
const SUBJECT = 'inference.predict.v1';

/** One transaction of the fraud model's 15 inputs, as a frontend would send it. */
const REQUEST = Buffer.from(
  JSON.stringify({
    model: 'fraud',
    rows: [[120.5, 14, 1, 0, 0, 2, 5, 80.2, 30.1, 400, 0, 3, 0.01, 75.3, 0.2]],
  }),
);
const HEADERS = new Map([['regatta-timeout-ms', '5000']]);

type Handler = (msg: IncomingMessage) => void;

/** A bus whose subscribers are called directly by {@link drive}; nothing crosses a socket. */
class DirectBus implements Bus {
  readonly kind = 'nats' as const;
  readonly handlers = new Map<string, Handler>();
  subscribe(subject: string, _queue: string | undefined, handler: Handler) {
    this.handlers.set(subject, handler);
    return { drain: () => Promise.resolve() };
  }
  gather(): never {
    throw new Error('DirectBus only delivers requests');
  }
  request(): never {
    throw new Error('DirectBus only delivers requests');
  }
  requestStream(): never {
    throw new Error('DirectBus only delivers requests');
  }
  health(): DependencyCheck {
    return { status: 'ok' };
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

interface Window {
  requests: number;
  errors: number;
  seconds: number;
  mainUsPerRequest: number;
  cpuUsPerRequest: number;
  lagP99Ms: number;
}

/** `callers` closed-loop callers of `handler` for WARMUP_MS, then measured for SECONDS. */
async function drive(handler: Handler, callers: number): Promise<Window> {
  let counting = false;
  let stop = false;
  let requests = 0;
  let errors = 0;
  let inFlight = 0;
  const send = (): void => {
    if (stop) return;
    inFlight++;
    handler({
      subject: SUBJECT,
      data: REQUEST,
      headers: HEADERS,
      replyable: true,
      reply: (_data, headers) => {
        inFlight--;
        if (counting) {
          requests++;
          if (headers.size > 0) errors++;
        }
        setImmediate(send);
      },
    });
  };
  for (let i = 0; i < callers; i++) send();
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  counting = true;
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  counting = false;
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const busy = performance.eventLoopUtilization(elu);
  lag.disable();
  stop = true;
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
  return {
    requests,
    errors,
    seconds,
    mainUsPerRequest: (busy.active * 1000) / requests,
    cpuUsPerRequest: (used.user + used.system) / requests,
    lagP99Ms: lag.percentile(99) / 1e6,
  };
}

async function startService(maxBatchRows: number): Promise<{ service: RunningInference; handler: Handler }> {
  const bus = new DirectBus();
  const config = loadConfig(inferenceEnv, {
    ...process.env,
    MODEL_REPOSITORY: path.join(repoRoot, 'apps/inference/models'),
    INFERENCE_MAX_BATCH_ROWS: String(maxBatchRows),
    INFERENCE_MAX_WAIT_MS: '0',
    PREDICTION_CACHE: 'false',
    LOG_LEVEL: 'warn',
  });
  const service = await createInferenceService({ bus, config });
  const handler = bus.handlers.get(SUBJECT);
  if (!handler) throw new Error(`the service did not subscribe to ${SUBJECT}`);
  return { service, handler };
}

/** The reply bytes of the service for REQUEST, for the floor's handler. */
async function replyBytes(): Promise<Uint8Array> {
  const { service, handler } = await startService(256);
  try {
    return await new Promise<Uint8Array>((resolve) =>
      handler({
        subject: SUBJECT,
        data: REQUEST,
        headers: HEADERS,
        replyable: true,
        reply: (data) => resolve(data),
      }),
    );
  } finally {
    await service.close();
  }
}

/** A worker that answers every message with a one-value output buffer, as the engine's worker answers a batch. */
function startEchoWorker(reply: Uint8Array): { handler: Handler; stop: () => Promise<number> } {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
    parentPort.on('message', (m) => {
      const out = new Float32Array(m.rows);
      parentPort.postMessage({ type: 'result', id: m.id, computeMs: 0, outputs: [{ name: 'score', cols: 1, kind: 'f32', buffer: out.buffer }] }, [out.buffer]);
    });`,
    { eval: true },
  );
  const waiting = new Map<number, IncomingMessage>();
  let nextId = 1;
  worker.on('message', (m: { id: number }) => {
    const msg = waiting.get(m.id)!;
    waiting.delete(m.id);
    msg.reply(reply, new Map());
  });
  return {
    handler: (msg) => {
      const id = nextId++;
      waiting.set(id, msg);
      const data = new Float32Array(15);
      worker.postMessage({ type: 'run', id, key: 'fraud:1', rows: 1, buffer: data.buffer }, [data.buffer]);
    },
    stop: () => worker.terminate(),
  };
}

const MODES = [
  { name: 'floor (answers at once)', maxBatchRows: 0 },
  { name: 'hand-over to a worker and back', maxBatchRows: -1 },
  { name: 'unbatched', maxBatchRows: 1 },
  { name: 'batched', maxBatchRows: 256 },
] as const;

const loadBefore = loadavg();
const reply = await replyBytes();
const floorHandler: Handler = (msg) => msg.reply(reply, new Map());
const windows = new Map<string, Window[]>();
for (let round = 1; round <= ROUNDS; round++) {
  for (const mode of MODES) {
    const started = mode.maxBatchRows > 0 ? await startService(mode.maxBatchRows) : undefined;
    const echo = mode.maxBatchRows < 0 ? startEchoWorker(reply) : undefined;
    try {
      for (const callers of CALLERS) {
        const w = await drive(started?.handler ?? echo?.handler ?? floorHandler, callers);
        const key = `${mode.name}|${callers}`;
        windows.set(key, [...(windows.get(key) ?? []), w]);
        console.log(
          `round ${round} ${mode.name} x${callers}: ${Math.round(w.requests / w.seconds)} req/s, main ${w.mainUsPerRequest.toFixed(1)} µs/req, cpu ${w.cpuUsPerRequest.toFixed(1)} µs/req, lag p99 ${w.lagP99Ms.toFixed(2)} ms, errors ${w.errors}`,
        );
      }
    } finally {
      await started?.service.close();
      await echo?.stop();
    }
  }
}
const loadAfter = loadavg();

const rows: (string | number)[][] = [];
const summary: Record<string, unknown>[] = [];
for (const mode of MODES) {
  for (const callers of CALLERS) {
    const ws = windows.get(`${mode.name}|${callers}`)!;
    const s = {
      mode: mode.name,
      callers,
      requests_per_second: Math.round(median(ws.map((w) => w.requests / w.seconds))),
      main_thread_us_per_request: median(ws.map((w) => w.mainUsPerRequest)),
      cpu_us_per_request: median(ws.map((w) => w.cpuUsPerRequest)),
      lag_p99_ms: median(ws.map((w) => w.lagP99Ms)),
      errors: ws.reduce((n, w) => n + w.errors, 0),
    };
    summary.push(s);
    rows.push([
      s.mode,
      callers,
      s.requests_per_second,
      s.main_thread_us_per_request,
      s.cpu_us_per_request,
      s.lag_p99_ms,
      s.errors,
    ]);
  }
}
const at = (mode: string, callers: number) => summary.find((s) => s.mode === mode && s.callers === callers)!;
const ratios = CALLERS.filter((c) => c > 1).map((c) => {
  const b = at('batched', c);
  const u = at('unbatched', c);
  return `${c} callers: batched / unbatched = ${((b.requests_per_second as number) / (u.requests_per_second as number)).toFixed(1)}x; main thread per request ${(u.main_thread_us_per_request as number).toFixed(1)} µs unbatched against ${(b.main_thread_us_per_request as number).toFixed(1)} µs batched`;
});

const file = writeResult('inference-path', {
  callers: CALLERS,
  seconds: SECONDS,
  rounds: ROUNDS,
  summary,
  windows: Object.fromEntries(windows),
});
const fmtLoad = (l: number[]) => l.map((v) => v.toFixed(1)).join(' / ');
updateDocs(
  'inference-path',
  `Measured ${new Date().toISOString().slice(0, 10)} with \`pnpm turbo run build --filter=@regatta/bench... && node bench/dist/scenarios/inference-path.js --callers ${CALLERS.join(',')} --seconds ${SECONDS} --rounds ${ROUNDS}\`
(the inference service in the load generator's process on a bus that calls its transport server directly: no NATS, no socket;
the fraud model, 1 worker, prediction cache off; closed loop; medians of ${ROUNDS} alternating rounds of ${SECONDS} s; load average
${fmtLoad(loadBefore)} before and ${fmtLoad(loadAfter)} after; raw data in \`bench/results/inference-path.json\`). "main thread" is the
event loop's busy time per request, "CPU" the whole process's (worker included).

${table(['mode', 'callers', 'requests/s', 'main thread µs / request', 'CPU µs / request', 'lag p99 ms', 'errors'], rows)}

${ratios.map((r) => `- ${r}.`).join('\n')}`,
);
console.log(`results: ${file}`);
