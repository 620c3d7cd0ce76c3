import { type DependencyCheck } from '@regatta/contracts';

export type Headers = Map<string, string>;

/** One message as a handler sees it; `reply` answers the sender (callable many times for streams). */
export interface IncomingMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  readonly replyable: boolean;
  reply(data: Uint8Array, headers: Headers): void;
}

export interface ReplyMessage {
  readonly data: Uint8Array;
  readonly headers: Headers;
}

export interface BusSubscription {
  /** Stops new deliveries, lets delivered ones finish. */
  drain(): Promise<void>;
}

/**
 * The message bus under the transport: NATS in distributed mode, an in-process bus in embedded
 * mode. Both carry the same bytes and headers, so serialization and error semantics are identical.
 */
export interface Bus {
  readonly kind: 'nats' | 'in-process';
  /**
   * Subscribes `handler` to `subject`; subscribers sharing `queue` split the messages. With
   * `queue` undefined every subscriber gets every message (broadcast subjects).
   */
  subscribe(
    subject: string,
    queue: string | undefined,
    handler: (msg: IncomingMessage) => void,
  ): BusSubscription;
  /** Sends one request to every subscriber and collects the replies that arrive within `windowMs`. */
  gather(subject: string, data: Uint8Array, headers: Headers, windowMs: number): Promise<ReplyMessage[]>;
  /** Sends a request and waits for one reply (rejects with a RegattaError). */
  request(subject: string, data: Uint8Array, headers: Headers, timeoutMs: number): Promise<ReplyMessage>;
  /** Sends a request and yields every reply until the iterator is returned or times out. */
  requestStream(
    subject: string,
    data: Uint8Array,
    headers: Headers,
    timeoutMs: number,
    signal?: AbortSignal,
  ): AsyncIterable<ReplyMessage>;
  health(): DependencyCheck;
  /**
   * Resolves once the server has processed everything this connection sent so far, subscriptions
   * included: after it, a caller on another connection finds them.
   */
  flush(): Promise<void>;
  /** Drains subscriptions and closes the connection. */
  close(): Promise<void>;
}
