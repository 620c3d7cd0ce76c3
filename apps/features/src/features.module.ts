import { type DynamicModule, Module } from '@nestjs/common';
import { HEALTH } from '@regatta/contracts';
import { HealthRegistry, createHealthController } from '@regatta/runtime';
import { FeaturesController } from './features.controller.js';
import { FeaturesService } from './features.service.js';

/** The features service's NATS handlers and their providers. */
@Module({})
export class FeaturesModule {
  static forRoot(deps: { health: HealthRegistry; features: FeaturesService }): DynamicModule {
    return {
      module: FeaturesModule,
      controllers: [FeaturesController, createHealthController(HEALTH.features)],
      providers: [
        { provide: HealthRegistry, useValue: deps.health },
        { provide: FeaturesService, useValue: deps.features },
      ],
    };
  }
}
