import { Controller, Get, Inject, Param } from '@nestjs/common';
import { HEALTH, type HealthReply, RegattaError } from '@regatta/contracts';
import { RpcClient } from '@regatta/transport';
import { Public } from '../edge/route-meta.js';

type ServiceView = HealthReply | { status: 'down'; detail: string };

/**
 * The fleet as the gateway sees it: each service's health as answered by one of its replicas.
 * Public like /ready, whose detail it is.
 */
@Controller('v1/fleet')
@Public()
export class FleetController {
  constructor(@Inject(RpcClient) private readonly client: RpcClient) {}

  @Get()
  async fleet(): Promise<{ services: Record<string, ServiceView> }> {
    const names = ['inference', 'features', 'llm-proxy'] as const;
    const replies = await Promise.all(
      names.map((name) =>
        this.client
          .request(HEALTH[name], {}, { timeoutMs: 1_000, retry: true })
          .catch((err: Error): ServiceView => ({ status: 'down', detail: err.message })),
      ),
    );
    return { services: Object.fromEntries(names.map((n, i) => [n, replies[i]!])) };
  }

  /** One service's health, answered by whichever replica the queue group picks (one NATS round trip). */
  @Get(':service')
  async service(@Param('service') name: string): Promise<HealthReply> {
    if (name !== 'inference' && name !== 'features' && name !== 'llm-proxy') {
      throw new RegattaError('NOT_FOUND', `no service named "${name}" (inference, features, llm-proxy)`);
    }
    return this.client.request(HEALTH[name], {}, { timeoutMs: 1_000, retry: true });
  }
}
