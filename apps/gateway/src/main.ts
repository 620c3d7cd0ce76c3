import 'reflect-metadata';
import { loadConfigOrExit } from '@regatta/config';
import { configureLogging, startProfiling, startTracing, stopTracing } from '@regatta/telemetry';
import { failStartup, handleShutdown } from '@regatta/runtime';
import { NatsBus } from '@regatta/transport';
import { gatewayEnv } from './config.js';
import { GATEWAY_SERVICE, createGateway } from './service.js';

const config = loadConfigOrExit(gatewayEnv);
configureLogging({ level: config.LOG_LEVEL });
startTracing({ serviceName: GATEWAY_SERVICE, otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
await startProfiling(GATEWAY_SERVICE, config.PYROSCOPE_SERVER_ADDRESS);
try {
  const bus = await NatsBus.connect({ url: config.NATS_URL, name: `${GATEWAY_SERVICE}-${process.pid}` });
  const gateway = await createGateway({ bus, config });
  handleShutdown(GATEWAY_SERVICE, [stopTracing, () => bus.close(), () => gateway.close()]);
} catch (err) {
  failStartup(GATEWAY_SERVICE, err);
}
