import { randomUUID } from 'node:crypto';
import { RegattaError, WireError } from '@regatta/contracts';
import { type RedisHandle } from '@regatta/cache';
import { createLogger } from '@regatta/telemetry';
import { type Redis } from 'ioredis';
import { type JsonObject } from '../providers/provider.js';
import { type CallOutcome, type SharedCall } from './shared-call.js';

const log = createLogger('llm-proxy');

/** Options of a {@link RedisRendezvous}. */
export interface RendezvousOptions {
  /** Lease lifetime; the leader renews it every third of it, so a crashed leader is noticed this fast. */
  leaseMs?: number;
  /** How often a follower re-reads the answer stream when no notification arrives. */
  pollMs?: number;
}

/** Result of trying to lead a call across replicas. */
export type Role =
  { role: 'leader'; publisher: CallPublisher } | { role: 'follower'; callId: string } | { role: 'alone' };

// Renews or deletes the lease only while it still holds this leader's call id.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** What a leader writes for followers on other replicas: items, then an end or an error entry. */
export interface CallPublisher {
  push(item: JsonObject): void;
  finish(outcome: CallOutcome): void;
  fail(error: RegattaError, shared: boolean): void;
  /** Drops the lease (after the answer is cached, so late arrivals find it there). */
  release(): Promise<void>;
}

/**
 * Coalescing across replicas. The first replica to take a Redis lease (`SET NX PX`) for a cache key
 * calls the provider and appends every item to a Redis stream named after its call id, publishing a
 * notification per entry; the other replicas read that stream from the start (so nothing sent before
 * they arrived is missed) and follow it until its end entry. A follower whose leader vanished (lease gone,
 * no end entry) gives up and retries, so a crashed replica costs a delay, never a lost request.
 */
export class RedisRendezvous {
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private subscriber: Redis | undefined;
  private readonly listeners = new Map<string, Set<() => void>>();

  constructor(
    private readonly redis: RedisHandle,
    private readonly prefix: string,
    options: RendezvousOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 15_000;
    this.pollMs = options.pollMs ?? 100;
  }

  /** Takes the lease for `key`, or learns who holds it; `alone` when Redis cannot be used. */
  async acquire(key: string): Promise<Role> {
    const client = this.redis.client();
    if (!client) return { role: 'alone' };
    const lease = `${this.prefix}:l:${key}`;
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const callId = randomUUID();
        if ((await client.set(lease, callId, 'PX', this.leaseMs, 'NX')) === 'OK')
          return { role: 'leader', publisher: this.publisher(client, key, callId) };
        const holder = await client.get(lease);
        if (holder) return { role: 'follower', callId: holder };
        // The lease was released between SET and GET: the answer is probably cached now; try again.
      }
      return { role: 'alone' };
    } catch (err) {
      this.redis.commandFailed(err);
      log.debug({ err: (err as Error).message }, 'coalescing lease unavailable; calling alone');
      return { role: 'alone' };
    }
  }

  private publisher(client: Redis, key: string, callId: string): CallPublisher {
    const lease = `${this.prefix}:l:${key}`;
    const stream = `${this.prefix}:x:${key}:${callId}`;
    const channel = `${this.prefix}:n:${key}:${callId}`;
    const renew = setInterval(
      () => {
        client.eval(RENEW, 1, lease, callId, this.leaseMs).catch(() => undefined);
      },
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    renew.unref();
    let first = true;
    const append = (fields: string[], ttlMs: number) => {
      const pipeline = client.multi();
      pipeline.xadd(stream, '*', ...fields);
      if (first || ttlMs < this.leaseMs) pipeline.pexpire(stream, ttlMs);
      pipeline.publish(channel, '1');
      first = false;
      // Followers poll as well, so a lost write only costs them a delay.
      pipeline.exec().catch(() => undefined);
    };
    return {
      push: (item) => append(['i', JSON.stringify(item)], 5 * 60_000),
      finish: (outcome) => append(['end', JSON.stringify(outcome)], 60_000),
      fail: (error, shared) => append(['err', JSON.stringify({ ...error.toWire(), shared })], 60_000),
      release: async () => {
        clearInterval(renew);
        await client.eval(RELEASE, 1, lease, callId).catch(() => undefined);
      },
    };
  }

  /**
   * Feeds `call` from the stream of the leader's `callId` until it ends. A leader that vanished without
   * an end entry fails the call as not shared, so its local readers retry on their own.
   */
  async follow(key: string, callId: string, call: SharedCall): Promise<void> {
    const stream = `${this.prefix}:x:${key}:${callId}`;
    const channel = `${this.prefix}:n:${key}:${callId}`;
    const lease = `${this.prefix}:l:${key}`;
    let wake: (() => void) | undefined;
    const onNotify = () => wake?.();
    this.listen(channel, onNotify);
    call.abort.signal.addEventListener('abort', onNotify, { once: true });
    let last = '-';
    let quietSince = Date.now();
    let leaderGone = false;
    try {
      while (call.running) {
        const client = this.redis.client();
        if (!client) {
          call.fail(new RegattaError('UNAVAILABLE', 'lost Redis while following a coalesced call'), false);
          return;
        }
        let entries: [string, string[]][] = [];
        try {
          entries = await client.xrange(stream, last === '-' ? '-' : `(${last}`, '+');
        } catch {
          entries = [];
        }
        for (const [id, fields] of entries) {
          last = id;
          quietSince = Date.now();
          const [kind, value] = [fields[0], fields[1] ?? 'null'];
          if (kind === 'i') call.push(JSON.parse(value) as JsonObject);
          else if (kind === 'end') call.finish(JSON.parse(value) as CallOutcome);
          else if (kind === 'err') {
            const parsed = JSON.parse(value) as WireError & { shared?: boolean };
            call.fail(RegattaError.fromWire(WireError.parse(parsed)), parsed.shared !== false);
          }
        }
        if (!call.running) return;
        if (leaderGone) {
          call.fail(new RegattaError('UNAVAILABLE', 'the replica answering this request went away'), false);
          return;
        }
        if (Date.now() - quietSince > this.pollMs) {
          const holder = await client.get(lease).catch(() => callId);
          // Read once more before giving up: the leader writes its end entry before it drops the lease.
          if (holder !== callId) {
            leaderGone = true;
            continue;
          }
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        if (call.abort.signal.aborted) {
          call.fail(new RegattaError('UNAVAILABLE', 'request cancelled by its caller'), false);
          return;
        }
      }
    } finally {
      call.abort.signal.removeEventListener('abort', onNotify);
      this.unlisten(channel, onNotify);
    }
  }

  private listen(channel: string, fn: () => void): void {
    const set = this.listeners.get(channel) ?? new Set();
    set.add(fn);
    this.listeners.set(channel, set);
    const subscriber = this.subscriberConnection();
    // Not awaited: an entry published before the subscription is active is found by the next read.
    if (subscriber && set.size === 1) subscriber.subscribe(channel).catch(() => undefined);
  }

  private unlisten(channel: string, fn: () => void): void {
    const set = this.listeners.get(channel);
    if (!set) return;
    set.delete(fn);
    if (set.size > 0) return;
    this.listeners.delete(channel);
    this.subscriber?.unsubscribe(channel).catch(() => undefined);
  }

  /** One subscriber connection per process, made on first use; polling covers the time it is down. */
  private subscriberConnection(): Redis | undefined {
    if (this.subscriber) return this.subscriber;
    const client = this.redis.client();
    if (!client) return undefined;
    // Unlike the command connection, subscriptions may wait for the link to come up.
    const sub = client.duplicate({
      connectionName: `${client.options.connectionName ?? 'llm'}-sub`,
      enableOfflineQueue: true,
    });
    sub.on('error', () => undefined);
    sub.on('message', (channel: string) => {
      for (const fn of this.listeners.get(channel) ?? []) fn();
    });
    this.subscriber = sub;
    return sub;
  }

  async close(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }
}
