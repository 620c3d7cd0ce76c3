import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import {
  INFERENCE,
  MAX_PREDICT_ROWS,
  ModelName,
  PredictOptions,
  PredictReply,
  PredictRow,
} from '@regatta/contracts';
import { z } from 'zod';
import { Downstream, Schema, Scopes } from '../edge/index.js';

/** The body of `POST /v1/predict/{model}`: the predict contract without the model (it is in the path). */
export const PredictBody = PredictOptions.extend({
  rows: z.array(PredictRow).min(1).max(MAX_PREDICT_ROWS),
}).strict();
export type PredictBody = z.input<typeof PredictBody>;

const ModelParams = z.object({ model: ModelName });

/** Scoring with the fleet's ONNX models, answered by the inference service over NATS. */
@Controller('v1/predict')
@Scopes('predict')
export class PredictController {
  constructor(@Inject(Downstream) private readonly downstream: Downstream) {}

  /** `POST /v1/predict/{model}`: one or many rows, positional or named features, optional version pin. */
  @Post(':model')
  @HttpCode(200)
  @Schema({
    params: ModelParams,
    body: PredictBody,
    reply: PredictReply,
    status: 200,
    summary: 'Score rows with a model (micro-batched, cached per row)',
    tags: ['inference'],
  })
  predict(@Param('model') model: string, @Body() body: PredictBody): Promise<PredictReply> {
    return this.downstream.request(INFERENCE.predict, { ...body, model });
  }
}
