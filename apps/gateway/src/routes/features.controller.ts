import { Body, Controller, HttpCode, Inject, Post, Res } from '@nestjs/common';
import { FEATURES, GetFeaturesReply, GetFeaturesRequest } from '@regatta/contracts';
import { type FastifyReply } from 'fastify';
import { Downstream, Schema, Scopes } from '../edge/index.js';

/** Online features for frontends, answered by the features service over NATS (`features.get.v1`). */
@Controller('v1/features')
@Scopes('features:read')
export class FeaturesController {
  constructor(@Inject(Downstream) private readonly downstream: Downstream) {}

  /**
   * `POST /v1/features`: entity rows + feature refs or a feature service -> Feast's column-major reply.
   * The features service's reply is validated, then sent on as the bytes it came in: a reply of 100
   * entities is about 240 KB of JSON, and encoding it again would cost more than checking it.
   */
  @Post()
  @HttpCode(200)
  @Schema({
    body: GetFeaturesRequest,
    reply: GetFeaturesReply,
    status: 200,
    summary: "Online features (Feast's get-online-features shape: statuses and event times per value)",
    tags: ['features'],
  })
  async get(
    @Body() body: GetFeaturesRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<GetFeaturesReply | Buffer> {
    const { reply, bytes } = await this.downstream.requestEncoded(FEATURES.get, body);
    if (!bytes) return reply;
    void res.type('application/json; charset=utf-8');
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}
