import { type Msg, type NatsConnection, type Subscription, createInbox } from '@nats-io/transport-node';

interface Pending {
  seq: number;
  sentAt: number;
  resolve: (msg: Msg) => void;
  reject: (err: Error) => void;
}

/**
 * Closed-loop NATS callers that cost the load generator as little as possible, so the machine's cores
 * go to what is measured. Each caller has at most one request outstanding; replies come back on one
 * wildcard subscription (`<inbox>.<caller>.<seq>`) and one watchdog expires requests older than the
 * timeout, instead of a timer and a promise chain per request as `nc.request` makes. A reply that
 * comes after its request expired is dropped (its sequence number no longer matches).
 */
export class ReplyMux {
  private readonly prefix = `${createInbox()}.`;
  private readonly pending: Array<Pending | undefined> = [];
  private readonly sub: Subscription;
  private readonly watchdog: NodeJS.Timeout;
  private seq = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5_000,
  ) {
    this.sub = nc.subscribe(`${this.prefix}>`, { callback: (err, msg) => this.onReply(err, msg) });
    this.watchdog = setInterval(() => this.expire(), Math.min(250, timeoutMs));
  }

  /** Sends `payload` to `subject` for `caller` (one request at a time per caller). */
  request(caller: number, subject: string, payload: Uint8Array): Promise<Msg> {
    if (this.pending[caller]) throw new Error(`caller ${caller} already has a request outstanding`);
    const seq = ++this.seq;
    return new Promise<Msg>((resolve, reject) => {
      this.pending[caller] = { seq, sentAt: performance.now(), resolve, reject };
      this.nc.publish(subject, payload, { reply: `${this.prefix}${caller}.${seq}` });
    });
  }

  close(): void {
    clearInterval(this.watchdog);
    this.sub.unsubscribe();
    this.failAll(new Error('closed'));
  }

  private onReply(err: Error | null, msg: Msg): void {
    if (err) return this.failAll(err);
    const tail = msg.subject.slice(this.prefix.length);
    const dot = tail.indexOf('.');
    const caller = Number(tail.slice(0, dot));
    const waiting = this.pending[caller];
    if (!waiting || waiting.seq !== Number(tail.slice(dot + 1))) return;
    this.pending[caller] = undefined;
    // The server answers a request nobody subscribes to with a 503 status and no body.
    if (msg.headers?.hasError) waiting.reject(new Error(`NATS status ${msg.headers.code}`));
    else waiting.resolve(msg);
  }

  private expire(): void {
    const now = performance.now();
    this.pending.forEach((waiting, caller) => {
      if (waiting && now - waiting.sentAt > this.timeoutMs) {
        this.pending[caller] = undefined;
        waiting.reject(new Error(`no reply in ${this.timeoutMs} ms`));
      }
    });
  }

  private failAll(err: Error): void {
    this.pending.forEach((waiting, caller) => {
      if (!waiting) return;
      this.pending[caller] = undefined;
      waiting.reject(err);
    });
  }
}
