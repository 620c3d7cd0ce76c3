import 'reflect-metadata';
import cluster from 'node:cluster';
import { ConfigError, loadConfigOrExit } from '@regatta/config';
import { configureLogging, startProfiling, startTracing, stopTracing } from '@regatta/telemetry';
import { failStartup, handleShutdown } from '@regatta/runtime';
import { NatsBus } from '@regatta/transport';
import { WORKER_INDEX_ENV, runClusterPrimary } from './cluster.js';
import { checkGatewayConfig, gatewayEnv } from './config.js';
import { GATEWAY_SERVICE, createGateway } from './service.js';

const config = loadConfigOrExit(gatewayEnv);
try {
  checkGatewayConfig(config, 'distributed');
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(78); // EX_CONFIG, as loadConfigOrExit
}
const log = configureLogging({ level: config.LOG_LEVEL });

if (cluster.isPrimary && config.GATEWAY_WORKERS > 1) {
  runClusterPrimary({
    workers: config.GATEWAY_WORKERS,
    log,
    shutdownTimeoutMs: config.SHUTDOWN_GRACE_MS + 5_000,
  });
} else {
  const workerIndex = Number(process.env[WORKER_INDEX_ENV] ?? 0);
  startTracing({ serviceName: GATEWAY_SERVICE, otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
  await startProfiling(GATEWAY_SERVICE, config.PYROSCOPE_SERVER_ADDRESS);
  try {
    const bus = await NatsBus.connect({ url: config.NATS_URL, name: `${GATEWAY_SERVICE}-${process.pid}` });
    const gateway = await createGateway({ bus, config, workerIndex });
    handleShutdown(GATEWAY_SERVICE, [stopTracing, () => bus.close(), () => gateway.close()]);
  } catch (err) {
    failStartup(GATEWAY_SERVICE, err);
  }
}
