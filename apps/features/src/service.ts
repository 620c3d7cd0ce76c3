import { HEALTH } from '@regatta/contracts';
import { HealthRegistry, type RunningService, startMicroservice } from '@regatta/runtime';
import { type Bus } from '@regatta/transport';
import { type FeaturesConfig } from './config.js';
import { FeaturesModule } from './features.module.js';

export const FEATURES_SERVICE = 'features';

/** Starts the features service on `bus`; the same code runs embedded and distributed. */
export async function createFeaturesService(deps: {
  bus: Bus;
  config: FeaturesConfig;
}): Promise<RunningService & { health: HealthRegistry }> {
  const health = new HealthRegistry(FEATURES_SERVICE);
  health.add('nats', () => deps.bus.health());
  const { app } = await startMicroservice({
    service: FEATURES_SERVICE,
    module: FeaturesModule.forRoot({ health }),
    bus: deps.bus,
    contracts: [HEALTH.features],
    shutdownGraceMs: deps.config.SHUTDOWN_GRACE_MS,
    defaultTimeoutMs: deps.config.REQUEST_TIMEOUT_MS,
  });
  health.setReady();
  return { name: FEATURES_SERVICE, health, close: () => app.close() };
}
