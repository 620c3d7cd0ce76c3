import 'reflect-metadata';
import { loadConfigOrExit } from '@regatta/config';
import { createFeaturesService, featuresEnv } from '@regatta/features';
import { createGateway, gatewayEnv } from '@regatta/gateway';
import { createInferenceService, inferenceEnv } from '@regatta/inference';
import { createLlmProxyService, llmProxyEnv } from '@regatta/llm-proxy';
import { type RunningService, failStartup, handleShutdown } from '@regatta/runtime';
import {
  configureLogging,
  createLogger,
  startProfiling,
  startTracing,
  stopTracing,
} from '@regatta/telemetry';
import { InProcessBus } from '@regatta/transport';

export interface EmbeddedFleet {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * The whole fleet in one process: the four services over the in-process bus, in-process
 * caches, embedded stores (SQLite, PGlite) and one HTTP port. Needs no servers.
 */
export async function startEmbeddedFleet(
  env: NodeJS.ProcessEnv = process.env,
  port?: number,
): Promise<EmbeddedFleet> {
  const bus = new InProcessBus();
  const started: RunningService[] = [];
  try {
    started.push(await createInferenceService({ bus, config: loadConfigOrExit(inferenceEnv, env) }));
    started.push(await createFeaturesService({ bus, config: loadConfigOrExit(featuresEnv, env) }));
    started.push(await createLlmProxyService({ bus, config: loadConfigOrExit(llmProxyEnv, env) }));
    const gateway = await createGateway({
      bus,
      config: loadConfigOrExit(gatewayEnv, env),
      ...(port !== undefined && { port }),
    });
    started.push(gateway);
    return {
      url: gateway.url,
      port: gateway.port,
      // The gateway stops first so no new work reaches the services while they drain.
      stop: async () => {
        for (const s of [...started].reverse()) await s.close();
        await bus.close();
      },
    };
  } catch (err) {
    for (const s of [...started].reverse()) await s.close().catch(() => undefined);
    throw err;
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const log = configureLogging();
  startTracing({ serviceName: 'regatta-embedded', otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT });
  await startProfiling('embedded', process.env.PYROSCOPE_SERVER_ADDRESS);
  try {
    const fleet = await startEmbeddedFleet();
    createLogger('fleet').info(
      { url: fleet.url },
      `Regatta embedded fleet ready at ${fleet.url} (GET /health, /ready, /metrics)`,
    );
    handleShutdown('fleet', [stopTracing, () => fleet.stop()]);
  } catch (err) {
    log.error(err);
    failStartup('fleet', err);
  }
}
