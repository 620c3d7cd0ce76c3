import { Controller, Inject } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import {
  HEADERS,
  LLM,
  type LlmChatFrame,
  type LlmChatReply,
  type LlmChatRequest,
  type LlmModelList,
} from '@regatta/contracts';
import { type RegattaContext } from '@regatta/transport';
import { type Observable, from } from 'rxjs';
import { ChatService } from './chat.service.js';

/** The llm-proxy's NATS handlers: parse the message context, call the chat service. */
@Controller()
export class LlmController {
  constructor(@Inject(ChatService) private readonly chat: ChatService) {}

  /** `llm.chat.v1`: a whole completion, or (when the caller asked for a stream) frames of it. */
  @MessagePattern(LLM.chat.subject)
  chatCompletion(
    @Payload() data: LlmChatRequest,
    @Ctx() ctx: RegattaContext,
  ): Promise<LlmChatReply> | Observable<LlmChatFrame> {
    const caller = ChatService.caller(ctx.tenant, ctx.headers.get(HEADERS.requestId), ctx.deadline);
    if (ctx.headers.get(HEADERS.stream) === '1') return from(this.chat.stream(data, caller));
    return this.chat.complete(data, caller);
  }

  /** `llm.models.v1`: the routable models and aliases. */
  @MessagePattern(LLM.models.subject)
  models(): LlmModelList {
    return this.chat.models();
  }

  /** `llm.cache.clear.v1`: drops the calling tenant's cached answers. */
  @MessagePattern(LLM.clearCache.subject)
  async clearCache(@Ctx() ctx: RegattaContext): Promise<{ deleted: number }> {
    return { deleted: await this.chat.clearCache(ctx.tenant) };
  }
}
