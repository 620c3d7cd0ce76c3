import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { FEATURES, GetFeaturesReply, GetFeaturesRequest } from '@regatta/contracts';
import { Downstream, Schema, Scopes } from '../edge/index.js';

/** Online features for frontends, answered by the features service over NATS (`features.get.v1`). */
@Controller('v1/features')
@Scopes('features:read')
export class FeaturesController {
  constructor(@Inject(Downstream) private readonly downstream: Downstream) {}

  /** `POST /v1/features`: entity rows + feature refs or a feature service -> Feast's column-major reply. */
  @Post()
  @HttpCode(200)
  @Schema({
    body: GetFeaturesRequest,
    reply: GetFeaturesReply,
    status: 200,
    summary: "Online features (Feast's get-online-features shape: statuses and event times per value)",
    tags: ['features'],
  })
  get(@Body() body: GetFeaturesRequest): Promise<GetFeaturesReply> {
    return this.downstream.request(FEATURES.get, body);
  }
}
