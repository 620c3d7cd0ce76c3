import {
  connect,
  createInbox,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { RegattaError, type DependencyCheck } from '@regatta/contracts';
import { createLogger, type Logger } from '@regatta/telemetry';
import { AsyncQueue } from './async-queue.js';
import {
  type Bus,
  type BusSubscription,
  type Headers,
  type IncomingMessage,
  type ReplyMessage,
} from './bus.js';

export interface NatsBusOptions {
  /** One or more comma-separated `nats://host:port` URLs. */
  url: string;
  /** Connection name shown by the NATS server (`<service>-<pid>`). */
  name: string;
  /** Give up connecting at start after this long (the process then exits and is restarted). */
  connectTimeoutMs?: number;
  /**
   * How often the client pings the server; after three unanswered pings the connection counts as dead (a
   * partition leaves the socket open and silent) and the client reconnects, to another cluster member when
   * there is one. Default 10 s, so a silent server is noticed within about 30 s (nats.js alone: 4 minutes).
   */
  pingIntervalMs?: number;
  logger?: Logger;
}

function toNatsHeaders(h: Headers): MsgHdrs | undefined {
  if (h.size === 0) return undefined;
  const out = natsHeaders();
  for (const [k, v] of h) out.set(k, v);
  return out;
}

function fromNatsHeaders(h: MsgHdrs | undefined): Headers {
  const out: Headers = new Map();
  if (!h) return out;
  for (const k of h.keys()) out.set(k.toLowerCase(), h.get(k));
  return out;
}

// A NATS status message (e.g. 503 no responders) arrives as a header-only message with a code.
function noResponders(h: MsgHdrs | undefined): boolean {
  return h !== undefined && h.hasError && h.code === 503;
}

/**
 * A message delivered by a subscription. Its reply is a method rather than a closure made per message:
 * services run from bundles that name every named closure at run time (esbuild's keepNames), and this is
 * the hottest path there is.
 */
class NatsDelivery implements IncomingMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  readonly replyable: boolean;

  constructor(
    private readonly nc: NatsConnection,
    private readonly msg: Msg,
  ) {
    this.subject = msg.subject;
    this.data = msg.data;
    this.headers = fromNatsHeaders(msg.headers);
    this.replyable = Boolean(msg.reply);
  }

  reply(data: Uint8Array, headers: Headers): void {
    if (!this.msg.reply || this.nc.isClosed()) return;
    try {
      this.nc.publish(this.msg.reply, data, { headers: toNatsHeaders(headers) });
    } catch (err) {
      throw tooLarge(this.nc, err, `reply on ${this.subject}`, data.length) ?? err;
    }
  }
}

/**
 * PAYLOAD_TOO_LARGE for a message the NATS server would refuse (nats.js checks the server's max_payload
 * before sending), saying how large it was and what the server takes; undefined for any other error.
 */
function tooLarge(nc: NatsConnection, err: unknown, what: string, bytes: number): RegattaError | undefined {
  if (!(err instanceof Error) || !err.message.includes('max_payload')) return undefined;
  const max = nc.info?.max_payload;
  return new RegattaError(
    'PAYLOAD_TOO_LARGE',
    `${what} is ${bytes} bytes and its headers, more than the NATS server's max_payload` +
      (max === undefined ? '' : ` of ${max} bytes`),
  );
}

/** The distributed-mode bus: a NATS connection that reconnects forever and drains on close. */
export class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  private state: DependencyCheck = { status: 'ok' };

  private constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
  ) {
    void this.watchStatus();
  }

  /** Connects, retrying until `connectTimeoutMs` (default 30 s) so a fleet can start before NATS. */
  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const log = options.logger ?? createLogger('transport');
    const servers = options.url.split(',').map((s) => s.trim());
    const deadline = Date.now() + (options.connectTimeoutMs ?? 30_000);
    for (let attempt = 1; ; attempt++) {
      try {
        const nc = await connect({
          servers,
          name: options.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          noAsyncTraces: true,
          timeout: 2_000,
          pingInterval: options.pingIntervalMs ?? 10_000,
          maxPingOut: 3,
        });
        log.info({ servers: nc.getServer(), name: options.name }, 'connected to NATS');
        return new NatsBus(nc, log);
      } catch (err) {
        if (Date.now() > deadline) {
          throw new RegattaError(
            'UNAVAILABLE',
            `cannot connect to NATS at ${options.url}: ${(err as Error).message}`,
          );
        }
        if (attempt === 1)
          log.warn({ url: options.url, err: (err as Error).message }, 'NATS not reachable yet; retrying');
        await new Promise((r) => setTimeout(r, Math.min(1_000, 100 * attempt)));
      }
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.state = { status: 'down', detail: 'disconnected from NATS; reconnecting' };
        this.log.warn('disconnected from NATS');
      } else if (s.type === 'reconnect') {
        this.state = { status: 'ok' };
        this.log.info('reconnected to NATS');
      }
    }
  }

  subscribe(
    subject: string,
    queue: string | undefined,
    handler: (msg: IncomingMessage) => void,
  ): BusSubscription {
    const sub: Subscription = this.nc.subscribe(subject, {
      ...(queue !== undefined && { queue }),
      callback: (err, msg) => {
        if (err) {
          this.log.error({ subject, err: err.message }, 'subscription error');
          return;
        }
        handler(new NatsDelivery(this.nc, msg));
      },
    });
    return { drain: () => sub.drain() };
  }

  async request(
    subject: string,
    data: Uint8Array,
    headers: Headers,
    timeoutMs: number,
  ): Promise<ReplyMessage> {
    try {
      const msg = await this.nc.request(subject, data, {
        timeout: Math.max(1, timeoutMs),
        headers: toNatsHeaders(headers),
      });
      return { data: msg.data, headers: fromNatsHeaders(msg.headers) };
    } catch (err) {
      throw this.mapError(subject, timeoutMs, err, data.length);
    }
  }

  async gather(
    subject: string,
    data: Uint8Array,
    headers: Headers,
    windowMs: number,
  ): Promise<ReplyMessage[]> {
    const replies: ReplyMessage[] = [];
    try {
      const iter = await this.nc.requestMany(subject, data, {
        strategy: 'timer',
        maxWait: Math.max(1, windowMs),
        headers: toNatsHeaders(headers),
      });
      for await (const msg of iter) {
        if (noResponders(msg.headers)) break;
        replies.push({ data: msg.data, headers: fromNatsHeaders(msg.headers) });
      }
    } catch (err) {
      if (replies.length === 0) throw this.mapError(subject, windowMs, err, data.length);
    }
    return replies;
  }

  requestStream(
    subject: string,
    data: Uint8Array,
    headers: Headers,
    timeoutMs: number,
    signal?: AbortSignal,
  ): AsyncIterable<ReplyMessage> {
    const inbox = createInbox();
    let timer: NodeJS.Timeout | undefined;
    let sub: Subscription | undefined;
    const queue: AsyncQueue<ReplyMessage> = new AsyncQueue(() => {
      clearTimeout(timer);
      sub?.unsubscribe();
    });
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        sub?.unsubscribe();
        queue.fail(new RegattaError('DEADLINE_EXCEEDED', `stream on ${subject} idle for ${timeoutMs} ms`));
      }, timeoutMs);
    };
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      sub?.unsubscribe();
      queue.end();
    });
    try {
      sub = this.nc.subscribe(inbox, {
        callback: (err, msg) => {
          if (err) return queue.fail(this.mapError(subject, timeoutMs, err));
          if (noResponders(msg.headers)) {
            sub?.unsubscribe();
            clearTimeout(timer);
            return queue.fail(new RegattaError('UNAVAILABLE', `no service answers ${subject}`));
          }
          arm();
          queue.push({ data: msg.data, headers: fromNatsHeaders(msg.headers) });
        },
      });
      arm();
      this.nc.publish(subject, data, { reply: inbox, headers: toNatsHeaders(headers) });
    } catch (err) {
      clearTimeout(timer);
      sub?.unsubscribe();
      queue.fail(this.mapError(subject, timeoutMs, err, data.length));
    }
    return queue;
  }

  private mapError(subject: string, timeoutMs: number, err: unknown, bytes?: number): RegattaError {
    const large = bytes === undefined ? undefined : tooLarge(this.nc, err, `request on ${subject}`, bytes);
    if (large) return large;
    const e = err as Error & { isNoResponders?: () => boolean; name: string };
    if (typeof e.isNoResponders === 'function' && e.isNoResponders()) {
      return new RegattaError('UNAVAILABLE', `no service answers ${subject}`);
    }
    if (e.name === 'TimeoutError' || /timeout/i.test(e.message)) {
      return new RegattaError('DEADLINE_EXCEEDED', `no reply on ${subject} within ${timeoutMs} ms`);
    }
    return new RegattaError('UNAVAILABLE', `NATS request on ${subject} failed: ${e.message}`);
  }

  health(): DependencyCheck {
    if (this.nc.isClosed()) return { status: 'down', detail: 'NATS connection closed' };
    return this.state;
  }

  flush(): Promise<void> {
    return this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.nc.isClosed() || this.nc.isDraining()) return;
    await this.nc.drain();
  }
}
