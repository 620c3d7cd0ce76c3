import { type ChatUsage } from '@regatta/contracts';
import { type RedisHandle } from '@regatta/cache';
import { createLogger } from '@regatta/telemetry';
import { type JsonObject } from '../providers/provider.js';
import { type CacheMode } from './cache-key.js';

/** A complete answer as it is cached: every item the provider sent, in order. */
export interface CachedAnswer {
  mode: CacheMode;
  /** `json`: the one completion body; `sse`: every chunk, the usage chunk included. */
  items: JsonObject[];
  model: string;
  provider: string;
  usage?: ChatUsage | undefined;
  usageEstimated: boolean;
  /** What the provider charged for it (the cost a hit avoids). */
  costUsd: number;
  storedAt: number;
}

/** Where cached answers live. */
export interface AnswerStore {
  readonly kind: 'redis' | 'memory';
  /** The answer, or undefined on a miss or when the store cannot be reached. */
  get(key: string): Promise<CachedAnswer | undefined>;
  /**
   * Stores an answer; `json` is its JSON text (already made to check its size, so it is not made
   * twice). Failures are absorbed (the caller already has its answer).
   */
  set(key: string, answer: CachedAnswer, ttlS: number, json: string): Promise<void>;
  /** Drops every answer of `tenant`; returns how many. */
  clear(tenant: string): Promise<number>;
}

const log = createLogger('llm-proxy');

/** Cached answers in Redis under `<prefix>:c:<tenant>:<digest>`, so a tenant's entries can be cleared. */
export class RedisAnswerStore implements AnswerStore {
  readonly kind = 'redis' as const;

  constructor(
    private readonly redis: RedisHandle,
    private readonly prefix: string,
  ) {}

  async get(key: string): Promise<CachedAnswer | undefined> {
    const client = this.redis.client();
    if (!client) return undefined;
    try {
      const raw = await client.get(`${this.prefix}:c:${key}`);
      return raw ? (JSON.parse(raw) as CachedAnswer) : undefined;
    } catch (err) {
      this.redis.commandFailed(err);
      log.debug({ err: (err as Error).message }, 'llm cache read failed; answering without cache');
      return undefined;
    }
  }

  async set(key: string, _answer: CachedAnswer, ttlS: number, json: string): Promise<void> {
    const client = this.redis.client();
    if (!client) return;
    try {
      await client.set(`${this.prefix}:c:${key}`, json, 'EX', ttlS);
    } catch (err) {
      this.redis.commandFailed(err);
      log.debug({ err: (err as Error).message }, 'llm cache write failed');
    }
  }

  async clear(tenant: string): Promise<number> {
    const client = this.redis.client();
    if (!client) return 0;
    const pattern = `${escapeGlob(`${this.prefix}:c:${encodeURIComponent(tenant)}:`)}*`;
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  }
}

/** Cached answers in process memory (no Redis configured): least recently used go first. */
export class MemoryAnswerStore implements AnswerStore {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, { answer: CachedAnswer; expires: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): Promise<CachedAnswer | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return Promise.resolve(undefined);
    this.entries.delete(key);
    if (entry.expires <= this.now()) return Promise.resolve(undefined);
    this.entries.set(key, entry);
    return Promise.resolve(entry.answer);
  }

  set(key: string, answer: CachedAnswer, ttlS: number): Promise<void> {
    this.entries.delete(key);
    this.entries.set(key, { answer, expires: this.now() + ttlS * 1000 });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return Promise.resolve();
  }

  clear(tenant: string): Promise<number> {
    const prefix = `${encodeURIComponent(tenant)}:`;
    let deleted = 0;
    for (const key of [...this.entries.keys()])
      if (key.startsWith(prefix)) {
        this.entries.delete(key);
        deleted++;
      }
    return Promise.resolve(deleted);
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
