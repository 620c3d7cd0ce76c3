import { type DynamicModule, Module } from '@nestjs/common';
import { HEALTH } from '@regatta/contracts';
import { HealthRegistry, createHealthController } from '@regatta/runtime';
import { InferenceController } from './inference.controller.js';
import { PredictionService } from './prediction.service.js';

/** The inference service's NATS handlers and their providers. */
@Module({})
export class InferenceModule {
  static forRoot(deps: { health: HealthRegistry; predictions: PredictionService }): DynamicModule {
    return {
      module: InferenceModule,
      controllers: [InferenceController, createHealthController(HEALTH['inference'])],
      providers: [
        { provide: HealthRegistry, useValue: deps.health },
        { provide: PredictionService, useValue: deps.predictions },
      ],
    };
  }
}
