import { beforeEach, describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { MemoryApiKeyStore } from '../testing/memory-key-store.js';
import { apiKeyFrom, hashApiKey, keyPrefix, newApiKey, sameHash } from './api-key.js';
import { ApiKeyAuthenticator } from './authenticator.js';

const ADMIN = 'rg_admin_key_for_the_authenticator_spec';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as RegattaError).code;
  }
}

describe(ApiKeyAuthenticator.name, () => {
  let store: MemoryApiKeyStore;
  let now: number;
  let auth: ApiKeyAuthenticator;
  let key: string;
  let id: string;

  beforeEach(async () => {
    store = new MemoryApiKeyStore();
    now = 1_000_000;
    auth = new ApiKeyAuthenticator({
      store,
      adminKey: ADMIN,
      pepper: 'pepper',
      cacheTtlMs: 30_000,
      now: () => now,
    });
    ({ id, key } = newApiKey());
    await store.insert({
      id,
      hash: hashApiKey(key, 'pepper'),
      prefix: keyPrefix(key),
      tenant: 'acme',
      scopes: ['predict'],
      name: '',
      ratePerS: 5,
      burst: null,
    });
  });

  it('turns a stored key into its principal', async () => {
    const principal = await auth.authenticate(key);
    expect(principal).toMatchObject({ keyId: id, tenant: 'acme', ratePerS: 5, burst: undefined });
    expect([...principal.scopes]).toEqual(['predict']);
  });

  it('accepts the bootstrap key with every scope without asking the store', async () => {
    const principal = await auth.authenticate(ADMIN);
    expect(principal.keyId).toBe('bootstrap');
    expect(principal.scopes.has('admin:all')).toBe(true);
    expect(store.lookups).toBe(0);
  });

  it('refuses missing and unknown keys with UNAUTHENTICATED', async () => {
    expect(await codeOf(auth.authenticate(undefined))).toBe('UNAUTHENTICATED');
    expect(await codeOf(auth.authenticate('rg_unknown'))).toBe('UNAUTHENTICATED');
  });

  it('does not accept a key hashed under another pepper', async () => {
    const other = new ApiKeyAuthenticator({ store, pepper: 'other', cacheTtlMs: 30_000 });
    expect(await codeOf(other.authenticate(key))).toBe('UNAUTHENTICATED');
  });

  it('asks the store once per key within the cache TTL, and again after it', async () => {
    await Promise.all([auth.authenticate(key), auth.authenticate(key), auth.authenticate(key)]);
    await auth.authenticate(key);
    expect(store.lookups).toBe(1);
    now += 30_001;
    await auth.authenticate(key);
    expect(store.lookups).toBe(2);
  });

  it('remembers unknown keys briefly, so floods of bad keys do not reach the store', async () => {
    for (let i = 0; i < 5; i++) await codeOf(auth.authenticate('rg_unknown'));
    expect(store.lookups).toBe(1);
  });

  it('forgets a revoked key at once', async () => {
    await auth.authenticate(key);
    await store.revoke(id);
    auth.forget(id);
    expect(await codeOf(auth.authenticate(key))).toBe('UNAUTHENTICATED');
  });

  it('keeps accepting a verified key while the store is down, and answers UNAVAILABLE for others', async () => {
    await auth.authenticate(key);
    now += 60_000;
    store.down = true;
    expect(await codeOf(auth.authenticate(key))).toBe('ok');
    expect(await codeOf(auth.authenticate(newApiKey().key))).toBe('UNAVAILABLE');
  });

  it('forgets the oldest keys past maxEntries', async () => {
    const small = new ApiKeyAuthenticator({ store, cacheTtlMs: 30_000, pepper: 'pepper', maxEntries: 2 });
    await small.authenticate(key);
    await codeOf(small.authenticate('rg_a'));
    await codeOf(small.authenticate('rg_b'));
    await small.authenticate(key);
    expect(store.lookups).toBe(4);
  });
});

describe(apiKeyFrom.name, () => {
  it('reads Bearer tokens (any case) and X-Api-Key', () => {
    expect(apiKeyFrom({ authorization: 'Bearer rg_abc' })).toBe('rg_abc');
    expect(apiKeyFrom({ authorization: 'bearer   rg_abc ' })).toBe('rg_abc');
    expect(apiKeyFrom({ 'x-api-key': 'rg_xyz' })).toBe('rg_xyz');
  });

  it('ignores other schemes, empty and oversized values', () => {
    expect(apiKeyFrom({ authorization: 'Basic abc' })).toBeUndefined();
    expect(apiKeyFrom({ authorization: 'Bearer ' })).toBeUndefined();
    expect(apiKeyFrom({ authorization: `Bearer ${'a'.repeat(300)}` })).toBeUndefined();
    expect(apiKeyFrom({})).toBeUndefined();
  });
});

describe(newApiKey.name, () => {
  it('makes distinct rg_ keys of 35 characters', () => {
    const keys = new Set(Array.from({ length: 100 }, () => newApiKey().key));
    expect(keys.size).toBe(100);
    for (const k of keys) expect(k).toMatch(/^rg_[A-Za-z0-9_-]{32}$/);
  });
});

describe(sameHash.name, () => {
  it('compares hashes', () => {
    const h = hashApiKey('rg_a');
    expect(sameHash(h, hashApiKey('rg_a'))).toBe(true);
    expect(sameHash(h, hashApiKey('rg_b'))).toBe(false);
    expect(sameHash(h, 'abc')).toBe(false);
    expect(sameHash('', '')).toBe(false);
  });
});
