import { createLogger } from './logger.js';

/**
 * Starts continuous profiling when a Pyroscope server address is configured; without one,
 * or when the profiler cannot load, the service runs unprofiled and says so once.
 */
export async function startProfiling(
  serviceName: string,
  serverAddress: string | undefined,
): Promise<boolean> {
  const log = createLogger('telemetry');
  if (!serverAddress) {
    log.info('PYROSCOPE_SERVER_ADDRESS not set: continuous profiling off');
    return false;
  }
  try {
    const mod = (await import('@pyroscope/nodejs')) as unknown as {
      default?: PyroscopeApi;
    } & PyroscopeApi;
    const pyroscope = mod.default ?? mod;
    pyroscope.init({ serverAddress, appName: `regatta.${serviceName}` });
    pyroscope.start();
    log.info({ serverAddress }, 'continuous profiling to Pyroscope');
    return true;
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'profiler failed to start: running without profiling');
    return false;
  }
}

interface PyroscopeApi {
  init(config: { serverAddress: string; appName: string }): void;
  start(): void;
}
