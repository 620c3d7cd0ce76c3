import { RegattaError, type DependencyCheck } from '@regatta/contracts';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisOnlineStoreConfig } from '../config.js';
import { redisFeatureField, redisHashKey, redisTimestampField } from '../redis-layout.js';
import { decodeTimestamp, encodeTimestamp } from '../time.js';
import { decodeValueJson, type JsonFeatureValue } from '../value.js';
import {
  storeUnavailable,
  type OnlineReadRequest,
  type OnlineReadResult,
  type OnlineStore,
  type OnlineWriteBatch,
  type OnlineWriteResult,
} from './online-store.js';

// Compare-and-set of one (entity, view): write the fields and `_ts:<view>` only when the new event time (whole
// seconds, as Feast compares) is later than the stored one, so a late or replayed write never replaces newer
// values. The stored `_ts` is a serialized google.protobuf.Timestamp; its seconds (field 1) are read here.
// KEYS[1] hash; ARGV: ts field, new seconds, new ts bytes, key TTL seconds (0 = none), field/value pairs.
const WRITE_IF_NEWER = `
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if prev then
  local secs, i, n = 0, 1, #prev
  while i <= n do
    local tag = string.byte(prev, i)
    i = i + 1
    local v, mul, b = 0, 1, 128
    while b >= 128 and i <= n do
      b = string.byte(prev, i)
      i = i + 1
      v = v + (b % 128) * mul
      mul = mul * 128
    end
    if tag == 8 then
      if v >= 9223372036854775808 then v = v - 18446744073709551616 end
      secs = v
    end
  end
  if secs ~= 0 and tonumber(ARGV[2]) <= secs then return 0 end
end
local args = {ARGV[1], ARGV[3]}
for i = 5, #ARGV do
  args[#args + 1] = ARGV[i]
  if #args >= 1000 then
    redis.call('HSET', KEYS[1], unpack(args))
    args = {}
  end
end
if #args > 0 then redis.call('HSET', KEYS[1], unpack(args)) end
local ttl = tonumber(ARGV[4])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
`;

const WRITE_COMMAND = 'regattaFeastWriteIfNewer';

interface WriteClient {
  [WRITE_COMMAND](key: Buffer, ...args: (string | Buffer | number)[]): Promise<unknown>;
}

/**
 * Starts the commands `issue` sends with the client's socket corked, so they leave in one write and reach
 * Redis as one pipelined round trip; the replies come back through each command's own promise. This is what
 * `client.pipeline()...exec()` sends, without ioredis's Pipeline object: with it, a read's replies outlived
 * young-generation GCs, so scavenges copied and promoted them. Measured on 10 and 100 hashes x 52 fields
 * (bench/src/scenarios/redis-reads.ts), Pipeline against this: 8-11x the scavenge pause time per read, a full
 * GC every 100-1000 reads against none, and 10-20% more CPU per read.
 */
export function sendTogether<T>(client: Pick<Redis, 'stream'>, issue: () => Promise<T>[]): Promise<T>[] {
  // Before the first connect there is no socket yet; ioredis queues the commands and sends them on connect.
  const socket = client.stream as Redis['stream'] | undefined;
  socket?.cork();
  try {
    return issue();
  } finally {
    socket?.uncork();
  }
}

/** Options of a RedisOnlineStore. */
export interface RedisOnlineStoreOptions {
  project: string;
  /** A client to use (and not close); otherwise one is created from `connection`. */
  client?: Redis;
  connection?: Omit<RedisOnlineStoreConfig, 'type'>;
  /** EXPIRE set on every hash written. */
  keyTtlSeconds?: number;
  /** Per-command timeout; default 2000 ms. */
  commandTimeoutMs?: number;
  /** Connection attempt timeout; default 2000 ms. */
  connectTimeoutMs?: number;
}

interface FieldPlan {
  view: string;
  features: readonly string[];
  fields: Buffer[];
  tsField: Buffer;
}

/** One HMGET of a read: an entity's hash, the views asked of it and which requests they answer. */
interface ReadGroup {
  key: Uint8Array;
  plans: FieldPlan[];
  /** Pairs of (request index, index into `plans`). */
  members: number[];
  /** Every plan's fields followed by its `_ts` field, in `plans` order. */
  fields: Buffer[];
  /** Position of each plan's first field in `fields`. */
  offsets?: number[];
}

const EMPTY_FIELDS: Buffer[] = [];

function samePlans(a: readonly FieldPlan[], b: readonly FieldPlan[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Feast's Redis layout: one hash per (entity key, project); feature fields named by MurmurHash3 of
 * `view:feature`, a `_ts:<view>` field per view. A read is one HMGET per entity hash (every requested view's
 * fields and timestamps together), all sent in one write (`sendTogether`).
 */
export class RedisOnlineStore implements OnlineStore {
  readonly kind = 'redis' as const;
  private readonly client: Redis;
  private readonly ownsClient: boolean;
  private readonly project: string;
  private readonly projectBytes: Buffer;
  private readonly keyTtlSeconds: number;
  private readonly plans = new WeakMap<readonly string[], FieldPlan>();
  /**
   * Why the connection is down, from a failed or lost connection until it is ready again. Meanwhile reads and
   * writes fail at once instead of waiting in ioredis's queue for the next reconnection attempt (up to 2 s
   * apart), which would use up a caller's whole deadline where it could have fallen back.
   */
  private down: string | undefined;

  constructor(options: RedisOnlineStoreOptions) {
    this.project = options.project;
    this.projectBytes = Buffer.from(options.project, 'utf8');
    this.keyTtlSeconds = options.keyTtlSeconds ?? options.connection?.keyTtlSeconds ?? 0;
    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      const c = options.connection ?? { host: 'localhost', port: 6379, ssl: false, db: 0 };
      const redisOptions: RedisOptions = {
        host: c.host,
        port: c.port,
        db: c.db,
        ...(c.username && { username: c.username }),
        ...(c.password && { password: c.password }),
        ...(c.ssl && { tls: {} }),
        // Fail requests quickly while Redis is away instead of queueing them for a long time.
        maxRetriesPerRequest: 1,
        connectTimeout: options.connectTimeoutMs ?? 2000,
        commandTimeout: options.commandTimeoutMs ?? 2000,
        lazyConnect: true,
        // How long a closing connection may linger before its socket is destroyed.
        disconnectTimeout: 500,
      };
      this.client = new Redis(redisOptions);
      this.ownsClient = true;
    }
    // Connection errors surface through commands (as UNAVAILABLE); without a listener they would be printed.
    this.client.on('error', (err: Error) => {
      this.down = err.message;
    });
    this.client.on('close', () => {
      this.down ??= 'connection closed';
    });
    this.client.on('ready', () => {
      this.down = undefined;
    });
    this.client.defineCommand(WRITE_COMMAND, { numberOfKeys: 1, lua: WRITE_IF_NEWER });
  }

  private plan(view: string, features: readonly string[]): FieldPlan {
    const cached = this.plans.get(features);
    if (cached && cached.view === view) return cached;
    const plan = {
      view,
      features,
      fields: features.map((f) => redisFeatureField(view, f)),
      tsField: redisTimestampField(view),
    };
    this.plans.set(features, plan);
    return plan;
  }

  async read(requests: readonly OnlineReadRequest[]): Promise<OnlineReadResult[]> {
    // Requests for the same entity (several views, or repeated rows) share one HMGET of the entity's hash.
    // Views usually share the key object too, so keys are grouped by identity first and by content after.
    const order: ReadGroup[] = [];
    const byObject = new Map<Uint8Array, ReadGroup>();
    const byContent = new Map<string, ReadGroup>();
    for (let index = 0; index < requests.length; index++) {
      const request = requests[index]!;
      let group = byObject.get(request.entityKey);
      if (!group) {
        const key = request.entityKey;
        const id = (
          Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength)
        ).toString('latin1');
        group = byContent.get(id);
        if (!group) {
          group = { key, plans: [], members: [], fields: EMPTY_FIELDS };
          byContent.set(id, group);
          order.push(group);
        }
        byObject.set(key, group);
      }
      const plan = this.plan(request.view, request.features);
      let p = group.plans.indexOf(plan);
      if (p < 0) p = group.plans.push(plan) - 1;
      group.members.push(index, p);
    }

    // Entities asking for the same views (the usual case) share one field list and its offsets.
    let previous: ReadGroup | undefined;
    for (const group of order) {
      if (previous && samePlans(previous.plans, group.plans)) {
        group.fields = previous.fields;
        group.offsets = previous.offsets;
      } else {
        const fields: Buffer[] = [];
        const offsets: number[] = [];
        for (const plan of group.plans) {
          offsets.push(fields.length);
          fields.push(...plan.fields, plan.tsField);
        }
        group.fields = fields;
        group.offsets = offsets;
      }
      previous = group;
    }

    this.failIfDown();
    let replies: (Buffer | null)[][];
    try {
      replies = await Promise.all(
        sendTogether(this.client, () =>
          order.map((group) =>
            this.client.hmgetBuffer(Buffer.concat([group.key, this.projectBytes]), ...group.fields),
          ),
        ),
      );
    } catch (err) {
      this.commandFailed(err);
      throw replyError(err as Error);
    }

    const results = new Array<OnlineReadResult>(requests.length);
    for (let g = 0; g < order.length; g++) {
      const buffers = replies[g]!;
      const group = order[g]!;
      const { members, plans, offsets } = group;
      for (let m = 0; m < members.length; m += 2) {
        const index = members[m]!;
        const p = members[m + 1]!;
        const n = plans[p]!.fields.length;
        const offset = offsets![p]!;
        const tsBytes = buffers[offset + n];
        const eventTimeMs = tsBytes ? decodeTimestamp(tsBytes) : undefined;
        const values = new Array<JsonFeatureValue | undefined>(n);
        const eventTimesMs = new Array<number | undefined>(n);
        for (let i = 0; i < n; i++) {
          const raw = buffers[offset + i];
          if (raw === null || raw === undefined) {
            values[i] = undefined;
            eventTimesMs[i] = undefined;
          } else {
            values[i] = decodeValueJson(raw);
            eventTimesMs[i] = eventTimeMs;
          }
        }
        results[index] = { values, eventTimesMs };
      }
    }
    return results;
  }

  async write(batch: OnlineWriteBatch): Promise<OnlineWriteResult> {
    if (batch.rows.length === 0) return { written: 0, skipped: 0 };
    this.failIfDown();
    const plan = this.plan(batch.view, batch.features);
    const client = this.client as unknown as WriteClient;
    const settled = await Promise.allSettled(
      sendTogether(this.client, () =>
        batch.rows.map((row) => {
          const seconds = Math.floor(row.eventTimeMs / 1000);
          const args: (string | Buffer | number)[] = [
            plan.tsField,
            seconds,
            Buffer.from(encodeTimestamp(seconds * 1000)),
            this.keyTtlSeconds,
          ];
          for (let i = 0; i < plan.fields.length; i++) {
            const value = row.values[i];
            if (value === undefined) continue;
            args.push(plan.fields[i]!, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
          }
          return client[WRITE_COMMAND](redisHashKey(row.entityKey, this.project), ...args);
        }),
      ),
    );
    const result = { written: 0, skipped: 0 };
    for (const outcome of settled) {
      if (outcome.status === 'rejected') {
        this.commandFailed(outcome.reason);
        throw replyError(outcome.reason as Error);
      }
      if (outcome.value === 1) result.written++;
      else result.skipped++;
    }
    return result;
  }

  /**
   * A command that timed out on a ready link means the link has stopped answering (a partition, a stalled
   * server): it is dropped and made again, and until Redis answers, reads and writes fail at once instead of
   * each waiting out the command timeout. A client handed in by the caller is left to its owner.
   */
  private commandFailed(err: unknown): void {
    if (!this.ownsClient || !(err instanceof Error) || err.message !== 'Command timed out') return;
    if (this.down !== undefined || this.client.status !== 'ready') return;
    this.down = 'a command got no answer in time';
    this.client.disconnect(true);
  }

  private failIfDown(): void {
    if (this.down !== undefined)
      throw storeUnavailable('redis', new Error(`${this.down} (reconnecting in the background)`));
  }

  async health(): Promise<DependencyCheck> {
    try {
      this.failIfDown();
      await this.client.ping();
      return { status: 'ok' };
    } catch (err) {
      return { status: 'down', detail: storeUnavailable('redis', err).message };
    }
  }

  async close(): Promise<void> {
    if (!this.ownsClient) return;
    // QUIT needs a live connection; a client still (re)connecting is just stopped.
    if (this.client.status !== 'ready') {
      this.client.disconnect();
      return;
    }
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

// Redis answered but refused the command (wrong key type, script error): a server-side problem, not an outage,
// except for errors raised because the connection is gone.
function replyError(err: Error): RegattaError {
  if (err.name === 'ReplyError')
    return new RegattaError('INTERNAL', `redis refused the command: ${err.message}`);
  return storeUnavailable('redis', err);
}
