import { createLogger } from '@regatta/telemetry';

/**
 * Set by a launcher that holds the write end of the service's stdin (the distributed fleet): when that end
 * closes, because the launcher exited however it exited, the service stops as on SIGTERM instead of running
 * on unwatched.
 */
export const STOP_WITH_PARENT_ENV = 'REGATTA_STOP_WITH_PARENT';

/**
 * Runs a service process: stops are run in reverse order on SIGTERM/SIGINT, then the
 * process exits 0; a second signal, or a stop that outlasts `forceAfterMs`, exits 1. With
 * REGATTA_STOP_WITH_PARENT=1, the end of stdin (the launcher is gone) stops it the same way.
 */
export function handleShutdown(name: string, stops: (() => Promise<void>)[], forceAfterMs = 30_000): void {
  const log = createLogger(name);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping: no new work, finishing in-flight requests');
    const force = setTimeout(() => {
      log.error('shutdown took too long: exiting');
      process.exit(1);
    }, forceAfterMs);
    force.unref();
    void (async () => {
      for (const s of [...stops].reverse()) {
        try {
          await s();
        } catch (err) {
          log.error({ err: (err as Error).message }, 'error while stopping');
        }
      }
      log.info('stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (process.env[STOP_WITH_PARENT_ENV] === '1') {
    // Nothing is sent on stdin; it only ends when the launcher's end closes.
    process.stdin.on('data', () => undefined);
    process.stdin.once('close', () => {
      if (!stopping) stop('launcher exited');
    });
    process.stdin.unref?.();
  }
}

/** Logs a fatal start-up error and exits non-zero. */
export function failStartup(name: string, err: unknown): never {
  createLogger(name).fatal({ err: err instanceof Error ? err.message : String(err) }, 'failed to start');
  process.exit(1);
}
