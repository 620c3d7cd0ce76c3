import { type DynamicModule, Module } from '@nestjs/common';
import { HEALTH } from '@regatta/contracts';
import { HealthRegistry, createHealthController } from '@regatta/runtime';
import { RpcClient } from '@regatta/transport';
import { FleetController } from './http/fleet.controller.js';
import { SystemController } from './http/system.controller.js';
import { ChatController } from './routes/chat.controller.js';
import { GATEWAY_OPTIONS, type GatewayOptions } from './options.js';

export interface GatewayDeps {
  health: HealthRegistry;
  client: RpcClient;
  options: GatewayOptions;
}

/** HTTP routes and the gateway's own NATS health handler. */
@Module({})
export class GatewayModule {
  static forRoot(deps: GatewayDeps): DynamicModule {
    return {
      module: GatewayModule,
      controllers: [SystemController, FleetController, ChatController, createHealthController(HEALTH.gateway)],
      providers: [
        { provide: HealthRegistry, useValue: deps.health },
        { provide: RpcClient, useValue: deps.client },
        { provide: GATEWAY_OPTIONS, useValue: deps.options },
      ],
    };
  }
}
