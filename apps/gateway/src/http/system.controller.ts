import { timingSafeEqual } from 'node:crypto';
import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { RegattaError } from '@regatta/contracts';
import { HealthRegistry } from '@regatta/runtime';
import { renderMetrics } from '@regatta/telemetry';
import { type FastifyReply } from 'fastify';
import { SystemRoute } from '../edge/route-meta.js';
import { GATEWAY_OPTIONS, type GatewayOptions } from '../options.js';

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Liveness, readiness and metrics. */
@Controller()
@SystemRoute()
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

  /**
   * Readiness: 503 only when this replica cannot serve (not started, or its NATS connection down). The
   * database, Redis and the downstream services are reported in the body (`gates_readiness: false`),
   * since every replica shares them.
   */
  @Get('ready')
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const report = await this.health.report();
    if (!report.ready) void reply.status(503);
    return report;
  }

  /** Prometheus metrics: with METRICS_TOKEN set, only for `Authorization: Bearer <token>`. */
  @Get('metrics')
  async metrics(
    @Headers('authorization') auth: string | undefined,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const token = this.options.metricsToken;
    if (token) {
      if (!sameToken(auth?.replace(/^Bearer\s+/i, '') ?? '', token)) {
        throw new RegattaError('UNAUTHENTICATED', 'metrics need `Authorization: Bearer <METRICS_TOKEN>`');
      }
    } else if (!this.options.openMetrics) {
      throw new RegattaError('NOT_FOUND', 'no such route');
    }
    // OpenMetrics (with exemplars) for scrapers that ask for it, the text format otherwise.
    const { contentType, body } = await renderMetrics(accept);
    void reply.type(contentType);
    return body;
  }
}
