import { RegattaError, type DependencyCheck } from '@regatta/contracts';
import { AsyncQueue } from './async-queue.js';
import {
  type Bus,
  type BusSubscription,
  type Headers,
  type IncomingMessage,
  type ReplyMessage,
} from './bus.js';

type Handler = (msg: IncomingMessage) => void;

interface Group {
  members: { handler: Handler; active: boolean }[];
  next: number;
}

/**
 * The embedded-mode bus: same subjects, bytes, headers and queue-group semantics as NATS,
 * delivered within one process. Handlers run on a later tick, as they would over a socket.
 */
export class InProcessBus implements Bus {
  readonly kind = 'in-process' as const;
  private readonly subjects = new Map<string, Map<string, Group>>();
  private closed = false;

  private unique = 0;

  subscribe(subject: string, queue: string | undefined, handler: Handler): BusSubscription {
    const groups = this.subjects.get(subject) ?? new Map<string, Group>();
    this.subjects.set(subject, groups);
    // A subscriber without a queue group is a group of its own: it gets every message.
    const name = queue ?? `\0${this.unique++}`;
    const group = groups.get(name) ?? { members: [], next: 0 };
    groups.set(name, group);
    const member = { handler, active: true };
    group.members.push(member);
    return {
      drain: () => {
        member.active = false;
        group.members = group.members.filter((m) => m !== member);
        return Promise.resolve();
      },
    };
  }

  private deliver(
    subject: string,
    data: Uint8Array,
    headers: Headers,
    reply: ((r: ReplyMessage) => void) | undefined,
  ): number {
    const groups = this.subjects.get(subject);
    let delivered = 0;
    for (const group of groups?.values() ?? []) {
      if (group.members.length === 0) continue;
      const member = group.members[group.next++ % group.members.length]!;
      delivered++;
      const msg: IncomingMessage = {
        subject,
        data,
        headers: new Map(headers),
        replyable: reply !== undefined,
        reply: (d, h) => reply?.({ data: d, headers: h }),
      };
      setImmediate(() => member.handler(msg));
    }
    return delivered;
  }

  request(subject: string, data: Uint8Array, headers: Headers, timeoutMs: number): Promise<ReplyMessage> {
    if (this.closed) return Promise.reject(new RegattaError('UNAVAILABLE', 'transport is closed'));
    return new Promise<ReplyMessage>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new RegattaError('DEADLINE_EXCEEDED', `no reply on ${subject} within ${timeoutMs} ms`));
      }, timeoutMs);
      const ok = this.deliver(subject, data, headers, (r) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      });
      if (ok === 0) {
        settled = true;
        clearTimeout(timer);
        reject(new RegattaError('UNAVAILABLE', `no service answers ${subject}`));
      }
    });
  }

  gather(subject: string, data: Uint8Array, headers: Headers, windowMs: number): Promise<ReplyMessage[]> {
    if (this.closed) return Promise.reject(new RegattaError('UNAVAILABLE', 'transport is closed'));
    return new Promise((resolve, reject) => {
      const replies: ReplyMessage[] = [];
      let expected = 0;
      const timer = setTimeout(() => resolve(replies), windowMs);
      expected = this.deliver(subject, data, headers, (r) => {
        replies.push(r);
        // Here every subscriber is known, so the gather ends as soon as all have answered.
        if (replies.length === expected) {
          clearTimeout(timer);
          resolve(replies);
        }
      });
      if (expected === 0) {
        clearTimeout(timer);
        reject(new RegattaError('UNAVAILABLE', `no service answers ${subject}`));
      }
    });
  }

  requestStream(
    subject: string,
    data: Uint8Array,
    headers: Headers,
    timeoutMs: number,
    signal?: AbortSignal,
  ): AsyncIterable<ReplyMessage> {
    let timer: NodeJS.Timeout | undefined;
    const queue: AsyncQueue<ReplyMessage> = new AsyncQueue(() => clearTimeout(timer));
    if (this.closed) {
      queue.fail(new RegattaError('UNAVAILABLE', 'transport is closed'));
      return queue;
    }
    // The timeout bounds the silence between frames, not the whole stream.
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          queue.fail(new RegattaError('DEADLINE_EXCEEDED', `stream on ${subject} idle for ${timeoutMs} ms`)),
        timeoutMs,
      );
    };
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      queue.end();
    });
    arm();
    const ok = this.deliver(subject, data, headers, (r) => {
      if (queue.closed) return;
      arm();
      queue.push(r);
    });
    if (ok === 0) {
      clearTimeout(timer);
      queue.fail(new RegattaError('UNAVAILABLE', `no service answers ${subject}`));
    }
    return queue;
  }

  /** Fire-and-forget publish (events). */
  publish(subject: string, data: Uint8Array, headers: Headers): void {
    this.deliver(subject, data, headers, undefined);
  }

  health(): DependencyCheck {
    return this.closed ? { status: 'down', detail: 'closed' } : { status: 'ok', detail: 'in-process bus' };
  }

  /** Subscriptions take effect at once in process. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
