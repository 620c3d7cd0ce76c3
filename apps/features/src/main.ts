import 'reflect-metadata';
import { ConfigError, loadConfigOrExit } from '@regatta/config';
import { configureLogging, startProfiling, startTracing, stopTracing } from '@regatta/telemetry';
import { failStartup, handleShutdown, startAdminServer } from '@regatta/runtime';
import { NatsBus } from '@regatta/transport';
import { featuresEnv } from './config.js';
import { FEATURES_SERVICE, checkFeaturesConfig, createFeaturesService } from './service.js';

const config = loadConfigOrExit(featuresEnv);
try {
  checkFeaturesConfig(config);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(78); // EX_CONFIG, like loadConfigOrExit
}
configureLogging({ level: config.LOG_LEVEL });
startTracing({ serviceName: FEATURES_SERVICE, otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
await startProfiling(FEATURES_SERVICE, config.PYROSCOPE_SERVER_ADDRESS);
try {
  const bus = await NatsBus.connect({ url: config.NATS_URL, name: `${FEATURES_SERVICE}-${process.pid}` });
  const service = await createFeaturesService({ bus, config });
  const admin = config.METRICS_PORT ? await startAdminServer(config.METRICS_PORT, service.health) : undefined;
  handleShutdown(FEATURES_SERVICE, [
    stopTracing,
    () => bus.close(),
    async () => admin?.close(),
    () => service.close(),
  ]);
} catch (err) {
  failStartup(FEATURES_SERVICE, err);
}
