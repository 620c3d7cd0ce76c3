import { type DynamicModule, type INestMicroservice, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type MicroserviceOptions } from '@nestjs/microservices';
import { type Contract } from '@regatta/contracts';
import { createLogger, type Logger } from '@regatta/telemetry';
import { type Bus, PassThroughRpcFilter, RegattaServer } from '@regatta/transport';

export interface MicroserviceSpec {
  service: string;
  module: Type<unknown> | DynamicModule;
  bus: Bus;
  contracts: readonly Contract[];
  shutdownGraceMs?: number;
  defaultTimeoutMs?: number;
}

/** A running piece of the fleet; `close()` stops taking work, finishes in-flight work, releases resources. */
export interface RunningService {
  readonly name: string;
  close(): Promise<void>;
}

/** Starts a NestJS microservice on the fleet's transport (queue group = service name). */
export async function startMicroservice(
  spec: MicroserviceSpec,
): Promise<{ app: INestMicroservice; server: RegattaServer; logger: Logger }> {
  const logger = createLogger(spec.service);
  const server = new RegattaServer({
    bus: spec.bus,
    service: spec.service,
    contracts: spec.contracts,
    logger,
    ...(spec.shutdownGraceMs !== undefined && { shutdownGraceMs: spec.shutdownGraceMs }),
    ...(spec.defaultTimeoutMs !== undefined && { defaultTimeoutMs: spec.defaultTimeoutMs }),
  });
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(spec.module, {
    strategy: server,
    logger: ['error', 'warn'],
  });
  app.useGlobalFilters(new PassThroughRpcFilter());
  await app.listen();
  return { app, server, logger };
}
