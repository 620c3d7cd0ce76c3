import { Controller, Inject, type Type } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { type Contract, type HealthReply } from '@regatta/contracts';
import { HealthRegistry } from './health.js';

/** A controller answering `<service>.health.v1` from the module's HealthRegistry provider. */
export function createHealthController(contract: Contract): Type<unknown> {
  @Controller()
  class HealthController {
    constructor(@Inject(HealthRegistry) private readonly health: HealthRegistry) {}

    @MessagePattern(contract.subject)
    report(): Promise<HealthReply> {
      return this.health.report();
    }
  }
  return HealthController;
}
