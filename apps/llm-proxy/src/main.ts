import 'reflect-metadata';
import { loadConfigOrExit } from '@regatta/config';
import { configureLogging, startProfiling, startTracing, stopTracing } from '@regatta/telemetry';
import { failStartup, handleShutdown, startAdminServer } from '@regatta/runtime';
import { NatsBus } from '@regatta/transport';
import { llmProxyEnv } from './config.js';
import { LLM_PROXY_SERVICE, createLlmProxyService } from './service.js';

const config = loadConfigOrExit(llmProxyEnv);
configureLogging({ level: config.LOG_LEVEL });
startTracing({ serviceName: LLM_PROXY_SERVICE, otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
await startProfiling(LLM_PROXY_SERVICE, config.PYROSCOPE_SERVER_ADDRESS);
try {
  const bus = await NatsBus.connect({ url: config.NATS_URL, name: `${LLM_PROXY_SERVICE}-${process.pid}` });
  const service = await createLlmProxyService({ bus, config });
  const admin = config.METRICS_PORT ? await startAdminServer(config.METRICS_PORT, service.health) : undefined;
  handleShutdown(LLM_PROXY_SERVICE, [
    stopTracing,
    () => bus.close(),
    async () => admin?.close(),
    () => service.close(),
  ]);
} catch (err) {
  failStartup(LLM_PROXY_SERVICE, err);
}
