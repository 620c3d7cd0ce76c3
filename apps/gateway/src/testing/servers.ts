import { randomBytes } from 'node:crypto';

/** URLs of the machine's shared test servers (never stopped by tests). */
export const SHARED = {
  redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  database: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  nats: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
};

/** A name for tables and key prefixes that no other test run uses. */
export function uniqueSuffix(prefix: string): string {
  return `${prefix}_${process.pid.toString(36)}_${randomBytes(4).toString('hex')}`;
}
