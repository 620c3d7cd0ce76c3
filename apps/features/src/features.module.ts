import { type DynamicModule, Module } from '@nestjs/common';
import { HEALTH } from '@regatta/contracts';
import { HealthRegistry, createHealthController } from '@regatta/runtime';

/** The features service's NATS handlers and their providers. */
@Module({})
export class FeaturesModule {
  static forRoot(deps: { health: HealthRegistry }): DynamicModule {
    return {
      module: FeaturesModule,
      controllers: [createHealthController(HEALTH.features)],
      providers: [{ provide: HealthRegistry, useValue: deps.health }],
    };
  }
}
