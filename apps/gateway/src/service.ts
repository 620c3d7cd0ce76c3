import { NestFactory } from '@nestjs/core';
import { type MicroserviceOptions } from '@nestjs/microservices';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { HEALTH, SERVICES, type DependencyCheck } from '@regatta/contracts';
import { HealthRegistry, type RunningService } from '@regatta/runtime';
import { createLogger } from '@regatta/telemetry';
import { type Bus, PassThroughRpcFilter, RegattaServer, RpcClient } from '@regatta/transport';
import { type GatewayConfig } from './config.js';
import { GatewayModule } from './gateway.module.js';
import { HttpErrorFilter, sendError } from './http/errors.js';
import { installApiMetrics } from './http/metrics.js';
import { installRequestContext } from './http/request-context.js';

export const GATEWAY_SERVICE = 'gateway';

export interface RunningGateway extends RunningService {
  readonly port: number;
  readonly url: string;
  readonly health: HealthRegistry;
  readonly app: NestFastifyApplication;
}

async function downstreamCheck(
  client: RpcClient,
  service: Exclude<(typeof SERVICES)[number], 'gateway'>,
): Promise<DependencyCheck> {
  try {
    const reply = await client.request(HEALTH[service], {}, { timeoutMs: 500 });
    const detail = Object.entries(reply.checks)
      .filter(([, c]) => c.status !== 'ok')
      .map(([name, c]) => `${name}: ${c.status}${c.detail ? ` (${c.detail})` : ''}`)
      .join('; ');
    return reply.ready
      ? { status: reply.status, ...(detail && { detail }) }
      : { status: 'down', detail: 'not ready' };
  } catch (err) {
    return { status: 'down', detail: (err as Error).message };
  }
}

/** Starts the gateway's HTTP server and its NATS handlers on `bus`. */
export async function createGateway(deps: {
  bus: Bus;
  config: GatewayConfig;
  port?: number;
}): Promise<RunningGateway> {
  const { bus, config } = deps;
  const log = createLogger(GATEWAY_SERVICE);
  const client = new RpcClient({ bus, defaultTimeoutMs: config.REQUEST_TIMEOUT_MS });
  const health = new HealthRegistry(GATEWAY_SERVICE);
  health.add('nats', () => bus.health());
  for (const service of ['inference', 'features', 'llm-proxy'] as const)
    health.add(service, () => downstreamCheck(client, service));

  const adapter = new FastifyAdapter({
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: true,
    return503OnClosing: true,
  });
  const fastify = adapter.getInstance();
  installRequestContext(fastify);
  installApiMetrics(fastify);
  fastify.setErrorHandler((err, req, reply) => sendError(reply, req, err));

  const app = await NestFactory.create<NestFastifyApplication>(
    GatewayModule.forRoot({ health, client, options: { metricsToken: config.METRICS_TOKEN } }),
    adapter,
    { logger: ['error', 'warn'] },
  );
  app.useGlobalFilters(new HttpErrorFilter());
  const server = new RegattaServer({
    bus,
    service: GATEWAY_SERVICE,
    contracts: [HEALTH.gateway],
    logger: log,
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
  });
  const micro = app.connectMicroservice<MicroserviceOptions>(
    { strategy: server },
    { inheritAppConfig: false },
  );
  micro.useGlobalFilters(new PassThroughRpcFilter());
  await app.startAllMicroservices();
  await app.listen({ port: deps.port ?? config.PORT, host: config.HOST });
  const address = fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  health.setReady();
  log.info({ port }, 'gateway listening');
  return {
    name: GATEWAY_SERVICE,
    port,
    url: `http://127.0.0.1:${port}`,
    health,
    app,
    close: () => app.close(),
  };
}
