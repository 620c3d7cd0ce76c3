import { type DynamicModule, type INestMicroservice, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type MicroserviceOptions } from '@nestjs/microservices';
import { type Contract, ServiceName } from '@regatta/contracts';
import { SLO_SNAPSHOT, getSloMonitor, registerSloMetrics } from '@regatta/slo';
import { createLogger, type Logger } from '@regatta/telemetry';
import { type Bus, PassThroughRpcFilter, RegattaServer, type RouteHandler } from '@regatta/transport';
import { createSloController } from './slo.controller.js';

export interface MicroserviceSpec {
  service: string;
  module: Type<unknown> | DynamicModule;
  bus: Bus;
  contracts: readonly Contract[];
  shutdownGraceMs?: number;
  defaultTimeoutMs?: number;
  /** See RegattaServerOptions.requestScope: false for leaf services that call no other service. */
  requestScope?: boolean;
  /** Hot subjects served outside Nest's per-message pipeline (see RegattaServer.addRoute). */
  routes?: Readonly<Record<string, RouteHandler>>;
}

/** A running piece of the fleet; `close()` stops taking work, finishes in-flight work, releases resources. */
export interface RunningService {
  readonly name: string;
  close(): Promise<void>;
}

/**
 * Starts a NestJS microservice on the fleet's transport (queue group = service name). A fleet
 * service also answers `<service>.slo.v1` with its SLO window and publishes `slo_*` gauges.
 */
export async function startMicroservice(
  spec: MicroserviceSpec,
): Promise<{ app: INestMicroservice; server: RegattaServer; logger: Logger }> {
  const logger = createLogger(spec.service);
  const fleetService = ServiceName.safeParse(spec.service);
  const slo = fleetService.success ? SLO_SNAPSHOT[fleetService.data] : undefined;
  let root: Type<unknown> | DynamicModule = spec.module;
  if (slo) {
    @Module({ imports: [spec.module], controllers: [createSloController(slo)] })
    class ServiceRootModule {}
    root = ServiceRootModule;
    registerSloMetrics();
    getSloMonitor().serves(spec.service);
  }
  const server = new RegattaServer({
    bus: spec.bus,
    service: spec.service,
    contracts: slo ? [...spec.contracts, slo] : spec.contracts,
    logger,
    ...(spec.shutdownGraceMs !== undefined && { shutdownGraceMs: spec.shutdownGraceMs }),
    ...(spec.defaultTimeoutMs !== undefined && { defaultTimeoutMs: spec.defaultTimeoutMs }),
    ...(spec.requestScope !== undefined && { requestScope: spec.requestScope }),
  });
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(root, {
    strategy: server,
    logger: ['error', 'warn'],
  });
  app.useGlobalFilters(new PassThroughRpcFilter());
  for (const [subject, handler] of Object.entries(spec.routes ?? {})) server.addRoute(subject, handler);
  await app.listen();
  return { app, server, logger };
}
