import {
  type FeatureCache,
  type RedisHandle,
  configureFeatureCache,
  connectRedis,
  resetFeatureCache,
} from '@regatta/cache';
import { type DependencyCheck, HEALTH, INFERENCE } from '@regatta/contracts';
import { HealthRegistry, type RunningService, startMicroservice } from '@regatta/runtime';
import { getSloMonitor } from '@regatta/slo';
import { createLogger } from '@regatta/telemetry';
import { type Bus } from '@regatta/transport';
import { checkInferenceConfig, type InferenceConfig } from './config.js';
import { type EngineOptions, InferenceEngine, type StartReport } from './engine/index.js';
import { exportEventLoopLag } from './event-loop-lag.js';
import { predictRoute } from './inference.controller.js';
import { InferenceModule } from './inference.module.js';
import { PredictionService } from './prediction.service.js';

export const INFERENCE_SERVICE = 'inference';

/** A running inference service. */
export interface RunningInference extends RunningService {
  readonly health: HealthRegistry;
  readonly engine: InferenceEngine;
  /** What the engine measured while loading and warming up every model in every worker. */
  readonly startReport: StartReport;
}

/** The engine options a configuration describes. */
export function engineOptions(config: InferenceConfig): EngineOptions {
  return {
    modelRepository: config.MODEL_REPOSITORY,
    workers: config.INFERENCE_WORKERS,
    defaultVersions: config.MODEL_DEFAULT_VERSIONS,
    startTimeoutMs: config.INFERENCE_START_TIMEOUT_MS,
    closeTimeoutMs: config.SHUTDOWN_GRACE_MS,
    batcher: {
      maxBatchRows: config.INFERENCE_MAX_BATCH_ROWS,
      maxWaitMs: config.INFERENCE_MAX_WAIT_MS,
      maxQueueRows: config.INFERENCE_MAX_QUEUE_ROWS,
      defaultTimeoutMs: config.INFERENCE_TIMEOUT_MS,
      shedding: config.INFERENCE_SHEDDING,
      costWindow: config.INFERENCE_COST_WINDOW,
    },
  };
}

function workersCheck(engine: InferenceEngine): DependencyCheck {
  const pool = engine.stats().workers;
  if (!pool) return { status: 'down', detail: 'not started' };
  const detail = `${pool.live} of ${pool.size} live, ${pool.busy} busy, ${pool.restarts} restarts`;
  if (pool.live === 0) return { status: 'down', detail };
  return { status: pool.live < pool.size ? 'degraded' : 'ok', detail };
}

/**
 * Starts the inference service on `bus`; the same code runs embedded and distributed. It loads the
 * model repository, warms every model up in every worker, sets up the prediction cache (Redis
 * when REDIS_URL is set) and only then serves `inference.predict.v1` and `inference.models.v1` and
 * reports ready. close() stops taking requests, finishes those in flight, then stops the workers.
 */
export async function createInferenceService(deps: {
  bus: Bus;
  config: InferenceConfig;
}): Promise<RunningInference> {
  const { bus, config } = deps;
  checkInferenceConfig(config);
  const log = createLogger(INFERENCE_SERVICE);
  exportEventLoopLag();
  const health = new HealthRegistry(INFERENCE_SERVICE);
  health.add('nats', () => bus.health());

  const engine = new InferenceEngine();
  const startReport = await engine.start({ ...engineOptions(config), logger: log });
  health.add('models', () =>
    engine.ready
      ? {
          status: 'ok',
          detail: engine
            .models()
            .map((m) => `${m.name}:${m.version}`)
            .join(', '),
        }
      : { status: 'down', detail: 'the engine is not serving (starting or closing)' },
  );
  health.add('workers', () => workersCheck(engine));

  let redis: RedisHandle | undefined;
  let cache: FeatureCache | undefined;
  try {
    if (config.PREDICTION_CACHE) {
      redis = connectRedis(config.REDIS_URL, { name: INFERENCE_SERVICE, logger: log });
      const handle = redis;
      health.add('redis', () => handle.status());
      cache = configureFeatureCache({
        redis,
        ttlMs: config.PREDICTION_CACHE_TTL_MS,
        maxEntries: config.PREDICTION_CACHE_MAX_ENTRIES,
        logger: log,
      });
    }
    const predictions = new PredictionService(engine, {
      cache,
      timeoutMs: config.INFERENCE_TIMEOUT_MS,
      slo: getSloMonitor(),
      logger: log,
    });
    const { app } = await startMicroservice({
      service: INFERENCE_SERVICE,
      module: InferenceModule.forRoot({ health, predictions }),
      bus,
      contracts: [HEALTH['inference'], INFERENCE.predict, INFERENCE.models],
      shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
      defaultTimeoutMs: config.REQUEST_TIMEOUT_MS,
      // A leaf service: handlers get their deadline from the context and call no other service.
      requestScope: false,
      routes: { [INFERENCE.predict.subject]: predictRoute(predictions) },
    });
    health.setReady();
    log.info(
      { coldStartMs: Math.round(startReport.coldStartMs), workers: startReport.workers, cache: !!cache },
      'inference ready',
    );
    return {
      name: INFERENCE_SERVICE,
      health,
      engine,
      startReport,
      close: async () => {
        health.setReady(false);
        // Subscriptions drain and in-flight requests finish before the workers stop.
        await app.close();
        await engine.close();
        await cache?.flush();
        await redis?.close();
        if (cache) resetFeatureCache();
      },
    };
  } catch (err) {
    await engine.close();
    await redis?.close();
    if (cache) resetFeatureCache();
    throw err;
  }
}
