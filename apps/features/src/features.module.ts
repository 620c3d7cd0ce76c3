import { type DynamicModule, Module } from '@nestjs/common';
import { HEALTH } from '@regatta/contracts';
import { HealthRegistry, createHealthController } from '@regatta/runtime';
import { FeaturesService } from './features.service.js';

/** The features service's Nest handlers (health) and their providers; features.get.v1 is a direct route. */
@Module({})
export class FeaturesModule {
  static forRoot(deps: { health: HealthRegistry; features: FeaturesService }): DynamicModule {
    return {
      module: FeaturesModule,
      controllers: [createHealthController(HEALTH.features)],
      providers: [
        { provide: HealthRegistry, useValue: deps.health },
        { provide: FeaturesService, useValue: deps.features },
      ],
    };
  }
}
