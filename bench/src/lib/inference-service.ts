import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, serviceEntry } from '@regatta/fleet';
import { repoRoot } from './report.js';
import { type Undo } from './undo.js';

/** The shape of a wide MLP the inference scenarios serve beside the demo model. */
export interface WideModelOptions {
  inputs: number;
  hidden: number[];
  seed: number;
}

/** What the inference app's training code offers for the wide model. */
export interface WideModelTools {
  writeWideModel(repo: string, name: string, options: WideModelOptions): string;
  wideModelMacsPerRow(options: Omit<WideModelOptions, 'seed'>): number;
}

/** The wide-model writer of the training scripts (built with the inference app's training code). */
export async function wideModelTools(): Promise<WideModelTools> {
  const url = pathToFileURL(path.join(repoRoot, 'apps/inference/training/dist/wide-model.js')).href;
  return (await import(url)) as WideModelTools;
}

/** An inference service process and its admin port (/ready, /metrics). */
export interface InferenceProcess {
  child: ChildProcess;
  port: number;
}

export interface InferenceProcessOptions {
  natsUrl: string;
  repository: string;
  workers: number;
  /** More environment (batching knobs). */
  env?: Record<string, string>;
  /** Node.js flags for the service process (`--cpu-prof`, say). */
  nodeArgs?: string[];
  /** The file to run (default: the service's own entry, its bundle). */
  entry?: string;
  /** How often /ready is asked while it starts. */
  pollMs?: number;
  /** Kills the process if the run ends before it is stopped. */
  undo: Undo;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Spawns the inference service (prediction cache off) and resolves once it answers /ready. */
export async function startInferenceService(options: InferenceProcessOptions): Promise<InferenceProcess> {
  const port = await freePort();
  const main = options.entry ?? serviceEntry('inference');
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), main], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      NATS_URL: options.natsUrl,
      METRICS_PORT: String(port),
      MODEL_REPOSITORY: options.repository,
      LOG_LEVEL: 'warn',
      PREDICTION_CACHE: 'false',
      INFERENCE_WORKERS: String(options.workers),
      ...options.env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  // Stopped by its scenario (a no-op then); this covers a run that fails before.
  options.undo.push('an inference service', () => child.kill('SIGTERM'));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the inference service exited with ${child.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, port };
    if (Date.now() > deadline) throw new Error('the inference service did not become ready');
    await sleep(options.pollMs ?? 100);
  }
}

/** Stops a service and waits for its exit. */
export async function stopInferenceService(service: InferenceProcess): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  const exited = once(service.child, 'exit');
  service.child.kill('SIGTERM');
  await exited;
}
