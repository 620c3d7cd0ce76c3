import { type DynamicModule, Module } from '@nestjs/common';
import { HEALTH } from '@regatta/contracts';
import { HealthRegistry, createHealthController } from '@regatta/runtime';

/** The inference service's NATS handlers and their providers. */
@Module({})
export class InferenceModule {
  static forRoot(deps: { health: HealthRegistry }): DynamicModule {
    return {
      module: InferenceModule,
      controllers: [createHealthController(HEALTH['inference'])],
      providers: [{ provide: HealthRegistry, useValue: deps.health }],
    };
  }
}
