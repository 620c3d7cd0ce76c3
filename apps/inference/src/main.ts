import 'reflect-metadata';
import { ConfigError, loadConfigOrExit } from '@regatta/config';
import { configureLogging, startProfiling, startTracing, stopTracing } from '@regatta/telemetry';
import { failStartup, handleShutdown, startAdminServer } from '@regatta/runtime';
import { NatsBus } from '@regatta/transport';
import { checkInferenceConfig, inferenceEnv } from './config.js';
import { INFERENCE_SERVICE, createInferenceService } from './service.js';

const config = loadConfigOrExit(inferenceEnv);
try {
  checkInferenceConfig(config);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(78); // EX_CONFIG, like loadConfigOrExit
}
configureLogging({ level: config.LOG_LEVEL });
startTracing({ serviceName: INFERENCE_SERVICE, otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
await startProfiling(INFERENCE_SERVICE, config.PYROSCOPE_SERVER_ADDRESS);
try {
  const bus = await NatsBus.connect({ url: config.NATS_URL, name: `${INFERENCE_SERVICE}-${process.pid}` });
  const service = await createInferenceService({ bus, config });
  const admin = config.METRICS_PORT ? await startAdminServer(config.METRICS_PORT, service.health) : undefined;
  handleShutdown(INFERENCE_SERVICE, [
    stopTracing,
    () => bus.close(),
    async () => admin?.close(),
    () => service.close(),
  ]);
} catch (err) {
  failStartup(INFERENCE_SERVICE, err);
}
