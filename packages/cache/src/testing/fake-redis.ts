import type { Redis } from 'ioredis';
import type { RedisHandle, RedisHealth } from '../redis.js';

/**
 * An in-memory stand-in for the few ioredis commands the caches use, so unit tests can drive tier 2
 * (and its failures) without a server. Integration tests use a real Redis.
 */
export class FakeRedisServer {
  readonly store = new Map<string, Buffer>();
  /** When set, every command rejects with this error (a hung or failing server). */
  failWith: Error | undefined;
  /** When false, the handle reports Redis as unreachable and hands out no client. */
  up = true;
  readonly calls: string[] = [];
  /** Errors the code under test reported through `commandFailed`. */
  readonly failures: unknown[] = [];

  handle(): RedisHandle {
    const client = this.client();
    return {
      name: 'fake',
      configured: true,
      connections: 1,
      client: () => (this.up ? client : undefined),
      status: (): RedisHealth =>
        this.up ? { status: 'ok', detail: 'fake' } : { status: 'degraded', detail: 'down' },
      close: () => Promise.resolve(),
      commandFailed: (err: unknown) => {
        this.failures.push(err);
      },
    };
  }

  private client(): Redis {
    const run = <T>(name: string, fn: () => T): Promise<T> => {
      this.calls.push(name);
      return this.failWith ? Promise.reject(this.failWith) : Promise.resolve(fn());
    };
    const setOne = (key: string, value: Buffer | string) => {
      this.store.set(key, Buffer.from(value));
      return 'OK';
    };
    const fake = {
      getBuffer: (key: string) => run('get', () => this.store.get(key) ?? null),
      mgetBuffer: (keys: string[]) => run('mget', () => keys.map((key) => this.store.get(key) ?? null)),
      set: (key: string, value: Buffer | string) => run('set', () => setOne(key, value)),
      del: (key: string) => run('del', () => (this.store.delete(key) ? 1 : 0)),
      pipeline: (commands: Array<[string, string, Buffer | string, ...unknown[]]>) => ({
        exec: () =>
          run('pipeline', () =>
            commands.map(([, key, value]): [Error | null, unknown] => [null, setOne(key, value)]),
          ),
      }),
    };
    return fake as unknown as Redis;
  }
}
