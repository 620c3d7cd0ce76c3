import cluster, { type Worker } from 'node:cluster';
import { type Logger } from '@regatta/telemetry';

/** Environment variable telling a worker its index (0..N-1). */
export const WORKER_INDEX_ENV = 'GATEWAY_WORKER_INDEX';

/** Options of {@link runClusterPrimary}. */
export interface ClusterOptions {
  workers: number;
  log: Logger;
  /** How long stopping workers may take before the primary exits anyway (default 30 s). */
  shutdownTimeoutMs?: number;
  /** More crashes than this within `crashWindowMs` stop the primary (default 5 in 60 s). */
  maxCrashes?: number;
  crashWindowMs?: number;
}

/**
 * The primary of cluster mode: forks `workers` copies of this script, which share the listening
 * port (the primary hands out connections round-robin), replaces a worker that dies, and on
 * SIGTERM/SIGINT lets every worker drain and exits once they all have. It holds no connections
 * of its own; each worker has its own NATS, Redis and database connections.
 */
export function runClusterPrimary(options: ClusterOptions): void {
  const { log } = options;
  const indexOf = new Map<number, number>();
  const crashes: number[] = [];
  let stopping = false;

  const fork = (index: number): Worker => {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    indexOf.set(worker.id, index);
    return worker;
  };
  for (let i = 0; i < options.workers; i++) fork(i);
  log.info({ workers: options.workers, pid: process.pid }, 'gateway cluster primary started');

  cluster.on('exit', (worker, code, signal) => {
    const index = indexOf.get(worker.id) ?? 0;
    indexOf.delete(worker.id);
    if (stopping) {
      if (indexOf.size === 0) {
        log.info('every gateway worker stopped');
        process.exit(0);
      }
      return;
    }
    const now = Date.now();
    crashes.push(now);
    while (crashes.length > 0 && crashes[0]! < now - (options.crashWindowMs ?? 60_000)) crashes.shift();
    if (crashes.length > (options.maxCrashes ?? 5)) {
      log.fatal({ crashes: crashes.length }, 'gateway workers keep dying: stopping the cluster');
      stop('crash loop', 1);
      return;
    }
    log.error({ worker: index, code, signal }, 'gateway worker died: starting a new one');
    setTimeout(() => {
      if (!stopping) fork(index);
    }, 500).unref();
  });

  const stop = (reason: string, exitCode = 0) => {
    if (stopping) {
      log.warn({ reason }, 'second stop request: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ reason }, 'stopping gateway workers');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    setTimeout(() => {
      log.error('gateway workers did not stop in time: exiting');
      process.exit(1);
    }, options.shutdownTimeoutMs ?? 30_000).unref();
    if (indexOf.size === 0) process.exit(exitCode);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
