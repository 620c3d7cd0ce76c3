import { randomBytes } from 'node:crypto';
import { RegattaError } from '@regatta/contracts';

/** URLs of the real services integration tests talk to. */
export interface ServiceUrls {
  /** `NATS_URL`, default nats://127.0.0.1:4222. */
  nats: string;
  /** `REDIS_URL`, default redis://127.0.0.1:6379. */
  redis: string;
  /** `DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/test. */
  database: string;
}

/** Defaults match the services every development machine and CI runner has locally. */
export const DEFAULT_SERVICE_URLS: Readonly<ServiceUrls> = {
  nats: 'nats://127.0.0.1:4222',
  redis: 'redis://127.0.0.1:6379',
  database: 'postgres://postgres@127.0.0.1:5432/test',
};

/** The test service URLs from `NATS_URL`, `REDIS_URL` and `DATABASE_URL`, with local defaults. */
export function serviceUrls(env: NodeJS.ProcessEnv = process.env): ServiceUrls {
  const pick = (name: string, fallback: string): string => {
    const value = env[name]?.trim();
    return value ? value : fallback;
  };
  return {
    nats: pick('NATS_URL', DEFAULT_SERVICE_URLS.nats),
    redis: pick('REDIS_URL', DEFAULT_SERVICE_URLS.redis),
    database: pick('DATABASE_URL', DEFAULT_SERVICE_URLS.database),
  };
}

const PREFIX = /^[a-z][a-z0-9_]{0,39}$/;
let counter = 0;

/**
 * A name no other test run uses, safe as an unquoted SQL identifier, a Redis key prefix or a NATS
 * subject token: `<prefix>_<pid>_<counter>_<random>`, lower case, at most 63 characters.
 */
export function uniqueName(prefix: string): string {
  const lower = prefix.toLowerCase();
  if (!PREFIX.test(lower)) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `uniqueName prefix must start with a letter and hold only letters, digits and _ (max 40), got "${prefix}"`,
    );
  }
  counter += 1;
  // Parallel jest workers have distinct pids; the random part separates runs that reuse a pid.
  return `${lower}_${process.pid.toString(36)}_${counter.toString(36)}_${randomBytes(4).toString('hex')}`;
}
