import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const KEY_PREFIX = 'rg_';
// Keys are 24 random bytes (192 bits): guessing one is hopeless, so a keyed SHA-256 is a safe and
// fast way to store them; a slow hash (scrypt) would only add latency to every cache miss.
const KEY_BYTES = 24;
const DEFAULT_PEPPER = 'regatta-api-keys';
/** Longest Authorization value looked at; anything longer cannot be a key and is rejected unread. */
const MAX_KEY_LENGTH = 256;

/** A new API key (`rg_` + 32 base64url characters) and its public id. Shown to the user once. */
export function newApiKey(): { id: string; key: string } {
  return {
    id: `key_${randomBytes(8).toString('hex')}`,
    key: `${KEY_PREFIX}${randomBytes(KEY_BYTES).toString('base64url')}`,
  };
}

/** The stored form of a key: hex HMAC-SHA256 under the server's pepper. */
export function hashApiKey(key: string, pepper: string = DEFAULT_PEPPER): string {
  return createHmac('sha256', pepper).update(key).digest('hex');
}

/** Compares two hex hashes in constant time (length is public: both are SHA-256). */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** The first characters of a key, safe to show in listings so a user can tell keys apart. */
export function keyPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX.length + 6);
}

/**
 * The API key a request carries: `Authorization: Bearer <key>` or `X-Api-Key: <key>`.
 * Returns undefined when neither is present or the value cannot be a key.
 */
export function apiKeyFrom(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  let key: string | undefined;
  if (typeof auth === 'string') {
    const space = auth.indexOf(' ');
    if (space > 0 && auth.slice(0, space).toLowerCase() === 'bearer') key = auth.slice(space + 1).trim();
  } else {
    const header = headers['x-api-key'];
    if (typeof header === 'string') key = header.trim();
  }
  if (!key || key.length > MAX_KEY_LENGTH) return undefined;
  return key;
}
