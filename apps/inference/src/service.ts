import { HEALTH } from '@regatta/contracts';
import { HealthRegistry, type RunningService, startMicroservice } from '@regatta/runtime';
import { type Bus } from '@regatta/transport';
import { type InferenceConfig } from './config.js';
import { InferenceModule } from './inference.module.js';

export const INFERENCE_SERVICE = 'inference';

/** Starts the inference service on `bus`; the same code runs embedded and distributed. */
export async function createInferenceService(deps: {
  bus: Bus;
  config: InferenceConfig;
}): Promise<RunningService & { health: HealthRegistry }> {
  const health = new HealthRegistry(INFERENCE_SERVICE);
  health.add('nats', () => deps.bus.health());
  const { app } = await startMicroservice({
    service: INFERENCE_SERVICE,
    module: InferenceModule.forRoot({ health }),
    bus: deps.bus,
    contracts: [HEALTH['inference']],
    shutdownGraceMs: deps.config.SHUTDOWN_GRACE_MS,
    defaultTimeoutMs: deps.config.REQUEST_TIMEOUT_MS,
  });
  health.setReady();
  return { name: INFERENCE_SERVICE, health, close: () => app.close() };
}
