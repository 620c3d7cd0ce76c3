import { Controller, Get, Inject } from '@nestjs/common';
import { RegattaError } from '@regatta/contracts';
import {
  SLO_SNAPSHOT,
  type SloSnapshot,
  type SloStats,
  getSloMonitor,
  mergeSnapshots,
  statsFromSnapshot,
} from '@regatta/slo';
import { RpcClient } from '@regatta/transport';
import { Schema, Scopes } from '../edge/index.js';

interface FleetSlo {
  stats: SloStats;
  /** Replicas that answered, per service; services that did not answer say why. */
  sources: Record<string, { replicas: number; error?: string }>;
}

/** The fleet's SLOs: every replica's window merged (percentiles from the combined histograms). */
@Controller('v1/slo')
export class SloController {
  constructor(@Inject(RpcClient) private readonly client: RpcClient) {}

  @Get()
  @Scopes('admin')
  @Schema({ summary: 'Fleet-wide SLO view', tags: ['operations'] })
  async slo(): Promise<FleetSlo> {
    const own = getSloMonitor().exportSnapshot();
    // Embedded: every service shares this process and its monitor; asking them would count it twice.
    if (this.client.bus.kind === 'in-process') {
      return { stats: statsFromSnapshot(own), sources: { fleet: { replicas: 1 } } };
    }
    const snapshots: SloSnapshot[] = [own];
    const sources: FleetSlo['sources'] = { gateway: { replicas: 1 } };
    await Promise.all(
      (['inference', 'features', 'llm-proxy'] as const).map(async (service) => {
        try {
          const replies = await this.client.gather(SLO_SNAPSHOT[service], {}, { windowMs: 300 });
          const ok = replies.filter((r): r is SloSnapshot => !(r instanceof RegattaError));
          snapshots.push(...ok);
          sources[service] = {
            replicas: ok.length,
            ...(ok.length < replies.length && { error: 'some replicas failed' }),
          };
        } catch (err) {
          sources[service] = { replicas: 0, error: RegattaError.from(err).message };
        }
      }),
    );
    return { stats: statsFromSnapshot(mergeSnapshots(snapshots)), sources };
  }
}
