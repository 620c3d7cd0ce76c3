import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  FEATURES,
  type GetFeaturesReply,
  MAX_FEATURE_VALUES,
  type ParsedRequestOf,
} from '@regatta/contracts';
import { FeaturesService } from './features.service.js';

/** The features service's NATS handlers (requests arrive validated against their contract). */
@Controller()
export class FeaturesController {
  constructor(@Inject(FeaturesService) private readonly features: FeaturesService) {}

  /** `features.get.v1`: entity rows + feature refs or a feature service -> Feast's column-major reply. */
  @MessagePattern(FEATURES.get.subject)
  get(@Payload() request: ParsedRequestOf<typeof FEATURES.get>): Promise<GetFeaturesReply> {
    return this.features.getFeatures(request, 'features.get.v1', MAX_FEATURE_VALUES);
  }
}
