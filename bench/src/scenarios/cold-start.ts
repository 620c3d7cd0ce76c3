// Cold start of the inference service: how long from spawning the process until it answers /ready, and how
// much of that is the engine's own start (every model loaded into every worker and run once there), read
// from the service's `inference_cold_start_seconds`. The demo fraud model and a wide MLP (a larger graph
// and 4 MB of weights), each started --runs times from the service's bundle, and the fraud model once more
// from the compiled modules the bundle is made of; medians with the range.
// Usage: pnpm turbo run build --filter=@regatta/bench... && node bench/dist/scenarios/cold-start.js [--runs 5]
//          [--workers N] [--hidden 1024,1024]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PrivateServer } from '@regatta/testing';
import { repoRoot, table, updateDocs, writeResult } from '../lib/report.js';
import { median } from '../lib/stats.js';
import { startInferenceService, stopInferenceService, wideModelTools } from '../lib/inference-service.js';
import { Undo } from '../lib/undo.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    workers: { type: 'string' },
    hidden: { type: 'string', default: '1024,1024' },
  },
});
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs is a positive integer');
const WORKERS = values.workers ? Number(values.workers) : Math.max(1, cpus().length - 1);
if (!Number.isInteger(WORKERS) || WORKERS < 1) throw new Error('--workers is a positive integer');
const HIDDEN = values.hidden.split(',').map(Number);
const COLS = 15;
const POLL_MS = 5;

const undo = new Undo();
const wideDir = mkdtempSync(path.join(tmpdir(), 'regatta-bench-cold-'));
undo.push('the wide model repository', () => rmSync(wideDir, { recursive: true, force: true }));
const wide = await wideModelTools();
const wideFile = wide.writeWideModel(wideDir, 'wide', { inputs: COLS, hidden: HIDDEN, seed: 7 });
const fraudDir = path.join(repoRoot, 'apps/inference/models');

const nats = await PrivateServer.start('nats');
undo.push('the private nats-server', () => nats.kill());
const natsUrl = nats.url;

interface Start {
  /** Spawn until /ready answers 200 (Node start, module loading, NATS connect, engine start). */
  readyMs: number;
  /** The engine's own start: models loaded into every worker and run once in each. */
  engineMs: number;
}

/** One start of the service on `repository`; it is stopped again before this returns. */
async function startOnce(repository: string, entry?: string): Promise<Start> {
  const started = performance.now();
  const service = await startInferenceService({
    natsUrl,
    repository,
    entry,
    workers: WORKERS,
    pollMs: POLL_MS,
    undo,
  });
  try {
    const readyMs = performance.now() - started;
    const metrics = await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('inference_cold_start_seconds '));
    if (!line) throw new Error('inference_cold_start_seconds is missing from /metrics');
    return { readyMs, engineMs: Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000 };
  } finally {
    await stopInferenceService(service);
  }
}

const loadBefore = loadavg();
const models = [
  {
    name: 'fraud',
    text: 'fraud (logistic regression, 15 inputs)',
    dir: fraudDir,
    file: 'fraud/1/model.onnx',
  },
  {
    name: 'wide',
    text: `wide (MLP ${[COLS, ...HIDDEN, 1].join('-')})`,
    dir: wideDir,
    file: path.relative(wideDir, wideFile),
  },
  // The same service from its compiled modules instead of its bundle: what the bundle saves.
  {
    name: 'fraud-modules',
    text: 'fraud, started from the compiled modules (dist/main.js) instead of the bundle',
    dir: fraudDir,
    file: 'fraud/1/model.onnx',
    entry: path.join(repoRoot, 'apps/inference/dist/main.js'),
  },
];
// Read now: the wide model's directory is gone once the run has been undone.
const onnxBytes = new Map(models.map((m) => [m.name, statSync(path.join(m.dir, m.file)).size]));
const starts = new Map<string, Start[]>(models.map((m) => [m.name, []]));
try {
  // Models alternate run by run, so the machine's changing load falls on both alike.
  for (let run = 0; run < RUNS; run++) {
    for (const m of models) {
      const s = await startOnce(m.dir, 'entry' in m ? m.entry : undefined);
      starts.get(m.name)!.push(s);
      process.stdout.write(
        `${m.name} run ${run + 1}: ready after ${s.readyMs.toFixed(0)} ms, engine start ${s.engineMs.toFixed(0)} ms\n`,
      );
    }
  }
} finally {
  await undo.all();
}
const loadAfter = loadavg();

const summary = models.map((m) => {
  const s = starts.get(m.name)!;
  const ready = s.map((x) => x.readyMs);
  const engine = s.map((x) => x.engineMs);
  return {
    model: m.name,
    text: m.text,
    onnxBytes: onnxBytes.get(m.name)!,
    readyMs: { median: median(ready), min: Math.min(...ready), max: Math.max(...ready) },
    engineMs: { median: median(engine), min: Math.min(...engine), max: Math.max(...engine) },
  };
});
const file = writeResult('inference-cold-start', {
  runs: RUNS,
  workers: WORKERS,
  loadavg: { before: loadBefore, after: loadAfter },
  starts: Object.fromEntries(starts),
  summary,
});
const range = (r: { median: number; min: number; max: number }) =>
  `${r.median.toFixed(0)} (${r.min.toFixed(0)}–${r.max.toFixed(0)})`;
updateDocs(
  'inference-cold-start',
  `Measured ${new Date().toISOString().slice(0, 10)} with \`pnpm turbo run build --filter=@regatta/bench... && node bench/dist/scenarios/cold-start.js --runs ${RUNS}${values.workers ? ` --workers ${WORKERS}` : ''}\`
(${RUNS} starts per model, alternating; ${WORKERS} inference worker${WORKERS === 1 ? '' : 's'}; a private nats-server; ${cpus().length}-core machine,
load average ${loadBefore.map((l) => l.toFixed(1)).join(' / ')} before and ${loadAfter.map((l) => l.toFixed(1)).join(' / ')} after; /ready polled every ${POLL_MS} ms;
raw data in \`bench/results/inference-cold-start.json\`). Median (min–max) in ms:

${table(
  ['model', 'model.onnx', 'spawn → /ready', 'engine start (`inference_cold_start_seconds`)'],
  summary.map((s) => [
    s.text,
    `${(s.onnxBytes / 1024).toFixed(s.onnxBytes < 10_240 ? 1 : 0)} KiB`,
    range(s.readyMs),
    range(s.engineMs),
  ]),
)}

The engine start is the models loaded into every worker and run once in each (warm-up), before the service
says it is ready; the rest of spawn → /ready is Node starting, loading the service's modules and connecting to NATS.`,
);
process.stdout.write(`results: ${file}\n`);
