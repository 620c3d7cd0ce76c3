import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { HEALTH } from '@regatta/contracts';
import { SLO_SNAPSHOT } from '@regatta/slo';
import { type SqlClient } from '@regatta/db';
import { HealthRegistry, createHealthController, createSloController } from '@regatta/runtime';
import { RpcClient } from '@regatta/transport';
import { AdminKeysController } from './auth/admin-keys.controller.js';
import { ApiKeyAdmin } from './auth/admin-keys.service.js';
import { DecisionsController } from './decisions/decisions.controller.js';
import { DecisionsService } from './decisions/decisions.service.js';
import { DocsController } from './http/docs.controller.js';
import { FleetController } from './http/fleet.controller.js';
import { SloController } from './http/slo.controller.js';
import { RouteCatalog } from './http/openapi.js';
import { SystemController } from './http/system.controller.js';
import { ChatController } from './routes/chat.controller.js';
import { FeaturesController } from './routes/features.controller.js';
import { KserveController } from './routes/kserve.controller.js';
import { PredictController } from './routes/predict.controller.js';
import { GATEWAY_OPTIONS, type GatewayOptions, SQL_CLIENT } from './options.js';
import { Downstream } from './resilience/downstream.js';

export interface GatewayDeps {
  health: HealthRegistry;
  client: RpcClient;
  /** Calls to services with retries and a circuit breaker per service: what routes should use. */
  downstream: Downstream;
  keys: ApiKeyAdmin;
  catalog: RouteCatalog;
  /** The gateway's database (undefined when the key store was injected, as in unit tests). */
  sql: SqlClient | undefined;
  options: GatewayOptions;
  /** Decisions (absent when the gateway runs without a database, as in some unit tests). */
  decisions?: DecisionsService | undefined;
  /** More controllers from the embedding app or a test. */
  controllers: Type<unknown>[];
}

/** HTTP routes and the gateway's own NATS health handler. */
@Module({})
export class GatewayModule {
  static forRoot(deps: GatewayDeps): DynamicModule {
    return {
      module: GatewayModule,
      controllers: [
        SystemController,
        DocsController,
        FleetController,
        ChatController,
        PredictController,
        FeaturesController,
        KserveController,
        AdminKeysController,
        SloController,
        ...(deps.decisions ? [DecisionsController] : []),
        createHealthController(HEALTH.gateway),
        createSloController(SLO_SNAPSHOT.gateway),
        ...deps.controllers,
      ],
      providers: [
        { provide: HealthRegistry, useValue: deps.health },
        { provide: RpcClient, useValue: deps.client },
        { provide: Downstream, useValue: deps.downstream },
        { provide: ApiKeyAdmin, useValue: deps.keys },
        { provide: RouteCatalog, useValue: deps.catalog },
        { provide: SQL_CLIENT, useValue: deps.sql },
        { provide: GATEWAY_OPTIONS, useValue: deps.options },
        ...(deps.decisions ? [{ provide: DecisionsService, useValue: deps.decisions }] : []),
      ],
    };
  }
}
