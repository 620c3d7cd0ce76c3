import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { RegattaError } from '@regatta/contracts';
import { HealthRegistry } from '@regatta/runtime';
import { getRegistry } from '@regatta/telemetry';
import { type FastifyReply } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { GATEWAY_OPTIONS, type GatewayOptions } from '../options.js';

/** Liveness, readiness and metrics. */
@Controller()
export class SystemController {
  constructor(
    @Inject(HealthRegistry) private readonly health: HealthRegistry,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayOptions,
  ) {}

  /** Liveness: the process serves requests. Cheap; never calls downstream. */
  @Get('health')
  live() {
    return { status: 'ok', service: 'gateway', instance: this.health.instance };
  }

  /** Readiness: NATS and every downstream service answer their health subject. */
  @Get('ready')
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const report = await this.health.report();
    if (!report.ready) void reply.status(503);
    return report;
  }

  @Get('metrics')
  async metrics(
    @Headers('authorization') auth: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const token = this.options.metricsToken;
    if (token) {
      const given = Buffer.from(auth?.replace(/^Bearer\s+/i, '') ?? '');
      const expected = Buffer.from(token);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new RegattaError('UNAUTHENTICATED', 'metrics need `Authorization: Bearer <METRICS_TOKEN>`');
      }
    }
    const registry = getRegistry();
    void reply.type(registry.contentType);
    return registry.metrics();
  }
}
