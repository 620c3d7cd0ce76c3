import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { DecisionReply, DecisionRequest, StoredDecision } from '@regatta/contracts';
import { z } from 'zod';
import { Caller, Deadline, Schema, Scopes } from '../edge/index.js';
import { DecisionsService } from './decisions.service.js';

const tags = ['decisions'];

/** Decisions: features -> model -> policy (-> explanation), and the decision log. */
@Controller('v1/decisions')
export class DecisionsController {
  constructor(@Inject(DecisionsService) private readonly decisions: DecisionsService) {}

  /** `POST /v1/decisions`: one decision in a declared flow, logged under the key's tenant. */
  @Post()
  @HttpCode(200)
  @Scopes('decisions:write')
  @Deadline(1_000)
  @Schema({ body: DecisionRequest, reply: DecisionReply, status: 200, summary: 'Make a decision', tags })
  decide(@Body() body: DecisionRequest, @Caller() caller: Caller): Promise<DecisionReply> {
    return this.decisions.decide(caller.tenant, body);
  }

  /** `GET /v1/decisions/{id}`: a decision of the caller's tenant (any other tenant's is 404). */
  @Get(':id')
  @Scopes('decisions:read')
  @Schema({
    params: z.object({ id: z.string().max(64) }),
    reply: StoredDecision,
    summary: 'Read a logged decision',
    tags,
  })
  get(@Param('id') id: string, @Caller() caller: Caller): Promise<StoredDecision> {
    return this.decisions.get(caller.tenant, id);
  }
}
