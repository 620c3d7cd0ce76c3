import { HEALTH } from '@regatta/contracts';
import { HealthRegistry, type RunningService, startMicroservice } from '@regatta/runtime';
import { type Bus } from '@regatta/transport';
import { type LlmProxyConfig } from './config.js';
import { LlmProxyModule } from './llm-proxy.module.js';

export const LLM_PROXY_SERVICE = 'llm-proxy';

/** Starts the llm-proxy service on `bus`; the same code runs embedded and distributed. */
export async function createLlmProxyService(deps: {
  bus: Bus;
  config: LlmProxyConfig;
}): Promise<RunningService & { health: HealthRegistry }> {
  const health = new HealthRegistry(LLM_PROXY_SERVICE);
  health.add('nats', () => deps.bus.health());
  const { app } = await startMicroservice({
    service: LLM_PROXY_SERVICE,
    module: LlmProxyModule.forRoot({ health }),
    bus: deps.bus,
    contracts: [HEALTH['llm-proxy']],
    shutdownGraceMs: deps.config.SHUTDOWN_GRACE_MS,
    defaultTimeoutMs: deps.config.REQUEST_TIMEOUT_MS,
  });
  health.setReady();
  return { name: LLM_PROXY_SERVICE, health, close: () => app.close() };
}
