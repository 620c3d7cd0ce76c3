import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { GATEWAY, RegattaError } from '@regatta/contracts';
import { type Logger, gauge } from '@regatta/telemetry';
import { type RpcClient } from '@regatta/transport';

/** Options of {@link GatewayPeers}. */
export interface GatewayPeersOptions {
  client: RpcClient;
  /** How often the replicas are counted, in ms; 0 counts once at start and never again. */
  everyMs: number;
  /** How long a count waits for answers (default 250 ms). */
  windowMs?: number;
  logger: Logger;
}

/** Names this replica in counts: host, pid and a random part, since one process may run several gateways. */
function newInstance(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

const replicas = gauge({
  name: 'gateway_replicas',
  help: 'Gateway replicas that answered the last count on the bus (gateway.peers.v1), this one included',
});

/**
 * Counts the gateway replicas on the bus: every replica answers `gateway.peers.v1` (broadcast) with its
 * instance, and this asks them all at start and every `everyMs`. While Redis is away each replica limits
 * API keys on its own; giving each replica 1/N of a key's limit keeps the fleet's total near the limit
 * set for the key instead of N times it. A count that gets no answer (NATS away) keeps the last one.
 */
export class GatewayPeers {
  /** What this replica answers to a count. */
  readonly instance = newInstance();
  private live = 1;
  private timer: NodeJS.Timeout | undefined;
  private counting: Promise<number> | undefined;
  private closed = false;

  constructor(private readonly options: GatewayPeersOptions) {}

  /** Counts once, then keeps counting on a timer. Resolves with the first count. */
  async start(): Promise<number> {
    const first = await this.refresh();
    if (this.options.everyMs > 0 && !this.closed) {
      this.timer = setInterval(() => void this.refresh(), this.options.everyMs);
      this.timer.unref();
    }
    return first;
  }

  /** Gateway replicas that answered the last count, this one included (at least 1). */
  get count(): number {
    return this.live;
  }

  /** Counts the replicas now; a count already under way is shared. */
  refresh(): Promise<number> {
    this.counting ??= this.countOnce().finally(() => (this.counting = undefined));
    return this.counting;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private async countOnce(): Promise<number> {
    let replies: ({ instance: string } | RegattaError)[];
    try {
      replies = await this.options.client.gather(
        GATEWAY.peers,
        {},
        { windowMs: this.options.windowMs ?? 250 },
      );
    } catch (err) {
      this.options.logger.debug(
        { err: err instanceof Error ? err.message : String(err), gateways: this.live },
        'cannot count gateway replicas; keeping the last count',
      );
      return this.live;
    }
    const instances = new Set<string>();
    for (const reply of replies) if (!(reply instanceof RegattaError)) instances.add(reply.instance);
    const counted = Math.max(1, instances.size);
    if (counted !== this.live && !this.closed) {
      this.options.logger.info(
        { gateways: counted, before: this.live },
        'gateway replicas on the bus changed',
      );
    }
    this.live = counted;
    replicas.set(counted);
    return counted;
  }
}
