import { type DynamicModule, Module } from '@nestjs/common';
import { HEALTH } from '@regatta/contracts';
import { HealthRegistry, createHealthController } from '@regatta/runtime';

/** The llm-proxy service's NATS handlers and their providers. */
@Module({})
export class LlmProxyModule {
  static forRoot(deps: { health: HealthRegistry }): DynamicModule {
    return {
      module: LlmProxyModule,
      controllers: [createHealthController(HEALTH['llm-proxy'])],
      providers: [{ provide: HealthRegistry, useValue: deps.health }],
    };
  }
}
