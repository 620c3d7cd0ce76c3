import { Controller, Inject } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { INFERENCE, type ModelsReply, type PredictReply } from '@regatta/contracts';
import { RegattaContext } from '@regatta/transport';
import { type ModelsCall, type PredictCall, PredictionService } from './prediction.service.js';

/** NATS handlers of the inference service; requests arrive validated against their contracts. */
@Controller()
export class InferenceController {
  constructor(@Inject(PredictionService) private readonly predictions: PredictionService) {}

  @MessagePattern(INFERENCE.predict.subject)
  predict(@Payload() request: PredictCall, @Ctx() ctx: RegattaContext): Promise<PredictReply> {
    return this.predictions.predict(request, ctx.deadline);
  }

  @MessagePattern(INFERENCE.models.subject)
  models(@Payload() request: ModelsCall): ModelsReply {
    return this.predictions.models(request);
  }
}
