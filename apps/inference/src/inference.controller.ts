import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { INFERENCE, type ModelsReply, type PredictReply } from '@regatta/contracts';
import { EncodedJson, type RouteHandler } from '@regatta/transport';
import { type ModelsCall, type PredictCall, PredictionService } from './prediction.service.js';
import { predictReplyJson } from './reply-json.js';

/**
 * `inference.predict.v1`, served as a direct route (RegattaServer.addRoute): the hottest subject of the
 * fleet needs none of Nest's per-message pipeline. The request arrives validated against its contract; the
 * reply is written by its own JSON writer.
 */
export function predictRoute(predictions: PredictionService): RouteHandler {
  return (request, ctx) => predictions.predict(request as PredictCall, ctx.deadline).then(replyBytes);
}

/** Passed to `then` rather than awaited in an async wrapper: fewer promise steps, no closure per request. */
function replyBytes(reply: PredictReply): EncodedJson {
  return new EncodedJson(Buffer.from(predictReplyJson(reply)));
}

/** NATS handlers of the inference service; requests arrive validated against their contracts. */
@Controller()
export class InferenceController {
  constructor(@Inject(PredictionService) private readonly predictions: PredictionService) {}

  @MessagePattern(INFERENCE.models.subject)
  models(@Payload() request: ModelsCall): ModelsReply {
    return this.predictions.models(request);
  }
}
