import { type DynamicModule, Module } from '@nestjs/common';
import { HEALTH } from '@regatta/contracts';
import { HealthRegistry, createHealthController } from '@regatta/runtime';
import { ChatService } from './chat.service.js';
import { LlmController } from './llm.controller.js';

/** The llm-proxy service's NATS handlers and their providers. */
@Module({})
export class LlmProxyModule {
  static forRoot(deps: { health: HealthRegistry; chat: ChatService }): DynamicModule {
    return {
      module: LlmProxyModule,
      controllers: [LlmController, createHealthController(HEALTH['llm-proxy'])],
      providers: [
        { provide: HealthRegistry, useValue: deps.health },
        { provide: ChatService, useValue: deps.chat },
      ],
    };
  }
}
