import { createLogger } from '@regatta/telemetry';
import { Redis } from 'ioredis';

/** The few log methods the cache needs; a `@regatta/telemetry` logger fits. */
export interface CacheLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** Redis as a /health dependency check: never `down`, because every cache keeps serving from memory. */
export interface RedisHealth {
  status: 'ok' | 'degraded';
  detail: string;
}

/** Options of {@link connectRedis}. */
export interface ConnectRedisOptions {
  /** Names the connection in logs and in `CLIENT LIST`. */
  name: string;
  logger?: CacheLogger;
  /** A command that gets no reply within this time fails, so a hung Redis costs at most this much. Default 200. */
  commandTimeoutMs?: number;
  /** Time allowed to open a connection. Default 1000. */
  connectTimeoutMs?: number;
  /** Reconnect backoff doubles from 50 ms up to this cap. Default 2000. */
  maxReconnectDelayMs?: number;
}

/** One Redis connection shared by the caches of a process, with the state /health reports. */
export interface RedisHandle {
  readonly name: string;
  /** False when no URL was given: the process runs with in-process caches only. */
  readonly configured: boolean;
  /** The ioredis client while it is connected and ready; undefined otherwise, so callers skip Redis at once. */
  client(): Redis | undefined;
  /** How many times the link has become ready: a failure seen on an earlier link is past once this grows. */
  readonly connections: number;
  /** The state for /health: `ok` when Redis is ready, `degraded` when absent or unreachable. */
  status(): RedisHealth;
  /**
   * Tells the handle a command failed. A timed-out command on a ready link means the link has stopped
   * answering (a network partition, a stalled server): the link is dropped and made again, so until Redis
   * answers `client()` hands out nothing and callers skip Redis at once instead of each waiting out its
   * command timeout.
   */
  commandFailed(err: unknown): void;
  /** Closes the connection and stops reconnecting; safe to call twice. */
  close(): Promise<void>;
}

const NOT_SET = 'REDIS_URL not set: in-process cache only';
/** ioredis's error for a command that outlived `commandTimeout`. */
const COMMAND_TIMED_OUT = 'Command timed out';

/**
 * Connects to Redis without ever throwing: with no URL the handle reports in-process only; with Redis down
 * commands fail fast, the client reconnects in the background and each transition (down, recovered) is
 * logged once rather than on every request.
 */
export function connectRedis(url: string | undefined, options: ConnectRedisOptions): RedisHandle {
  const logger = options.logger ?? createLogger('cache');
  if (!url) {
    logger.info({ redis: options.name }, NOT_SET);
    return new AbsentRedis(options.name);
  }
  return new LiveRedis(url, options, logger);
}

class AbsentRedis implements RedisHandle {
  readonly configured = false;
  readonly connections = 0;

  constructor(readonly name: string) {}

  client(): undefined {
    return undefined;
  }

  status(): RedisHealth {
    return { status: 'degraded', detail: NOT_SET };
  }

  commandFailed(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}

type LinkState = 'connecting' | 'up' | 'down' | 'closed';

class LiveRedis implements RedisHandle {
  readonly configured = true;
  readonly name: string;
  private readonly redis: Redis | undefined;
  private readonly target: string;
  private state: LinkState = 'connecting';
  private lastError = '';
  private downSince: Date | undefined;
  private readonly commandTimeoutMs: number;
  private links = 0;

  constructor(
    url: string,
    options: ConnectRedisOptions,
    private readonly logger: CacheLogger,
  ) {
    this.name = options.name;
    this.target = redactUrl(url);
    const maxDelay = options.maxReconnectDelayMs ?? 2000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 200;
    try {
      this.redis = new Redis(url, {
        connectionName: options.name,
        // A cache lookup must never wait for Redis to come back: with no offline queue a command issued
        // while disconnected is rejected at once, and in-flight commands are failed when the socket drops.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: this.commandTimeoutMs,
        connectTimeout: options.connectTimeoutMs ?? 1000,
        // Closing while reconnecting otherwise leaves a 2 s timer that holds the process open at shutdown.
        disconnectTimeout: 200,
        // Always a number, so the client keeps reconnecting in the background for the life of the process.
        retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 16), maxDelay),
      });
    } catch (err) {
      // ioredis only throws here for an unusable URL; the process still serves from memory.
      this.redis = undefined;
      this.lastError = err instanceof Error ? describe(err) : String(err);
      this.markDown();
      return;
    }
    const redis = this.redis;
    redis.on('ready', () => this.markUp());
    // An error on a ready link is followed by 'close' if the link is really lost; the close makes the
    // transition, the error supplies the reason shown in /health.
    redis.on('error', (err: Error) => {
      this.lastError = describe(err);
      if (redis.status !== 'ready') this.markDown();
    });
    redis.on('close', () => this.markDown());
  }

  get connections(): number {
    return this.links;
  }

  client(): Redis | undefined {
    // `up` as well: a link given up on (commandFailed) is skipped before its socket has finished closing.
    return this.state === 'up' && this.redis?.status === 'ready' ? this.redis : undefined;
  }

  commandFailed(err: unknown): void {
    const redis = this.redis;
    if (!(err instanceof Error) || err.message !== COMMAND_TIMED_OUT) return;
    if (!redis || this.state !== 'up') return;
    this.lastError = `a command got no answer within ${this.commandTimeoutMs} ms; reconnecting`;
    this.markDown();
    redis.disconnect(true);
  }

  status(): RedisHealth {
    switch (this.state) {
      case 'up':
        return { status: 'ok', detail: `connected to ${this.target}` };
      case 'connecting':
        return {
          status: 'degraded',
          detail: `connecting to ${this.target}: in-process cache only until ready`,
        };
      case 'down':
        return {
          status: 'degraded',
          detail: `${this.target} unreachable since ${this.downSince?.toISOString() ?? '?'} (${this.lastError}): in-process cache only`,
        };
      case 'closed':
        return { status: 'degraded', detail: 'connection closed: in-process cache only' };
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (!this.redis) return;
    const redis = this.redis;
    if (redis.status === 'ready') {
      // QUIT lets queued writes finish; a dead link would make it wait, so only a ready link gets it.
      await redis.quit().catch(() => redis.disconnect());
    } else {
      redis.disconnect();
    }
  }

  private markUp(): void {
    if (this.state === 'closed') return;
    const previous = this.state;
    this.state = 'up';
    this.links++;
    if (previous === 'down') {
      const downForS = this.downSince ? (Date.now() - this.downSince.getTime()) / 1000 : undefined;
      this.logger.info({ redis: this.name, target: this.target, down_for_s: downForS }, 'redis recovered');
    } else if (previous === 'connecting') {
      this.logger.info({ redis: this.name, target: this.target }, 'redis connected');
    }
    this.downSince = undefined;
    this.lastError = '';
  }

  private markDown(): void {
    this.lastError ||= 'connection closed';
    // Every failed reconnect attempt raises another error event; only the transition is worth a log line.
    if (this.state === 'down' || this.state === 'closed') return;
    this.state = 'down';
    this.downSince = new Date();
    this.logger.warn(
      { redis: this.name, target: this.target, err: this.lastError },
      'redis unavailable: serving from in-process cache only, reconnecting in background',
    );
  }
}

function describe(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

/** The URL without credentials, fit for logs and /health. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = 'redacted';
    return parsed.toString();
  } catch {
    return 'redis (unparseable URL)';
  }
}
