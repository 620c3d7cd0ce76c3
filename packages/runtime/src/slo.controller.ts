import { Controller, type Type } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { type Contract } from '@regatta/contracts';
import { type SloSnapshot, getSloMonitor } from '@regatta/slo';

/** A controller answering `<service>.slo.v1` with this process's SLO window. */
export function createSloController(contract: Contract): Type<unknown> {
  @Controller()
  class SloController {
    @MessagePattern(contract.subject)
    snapshot(): SloSnapshot {
      return getSloMonitor().exportSnapshot();
    }
  }
  return SloController;
}
