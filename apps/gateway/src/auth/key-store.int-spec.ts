import { afterAll, describe, expect, it } from '@jest/globals';
import { type SqlClient, createPostgresClient, openPglite } from '@regatta/db';
import { serviceUrls, uniqueName } from '@regatta/testing';
import { hashApiKey, keyPrefix, newApiKey } from './api-key.js';
import { SqlApiKeyStore } from './key-store.js';

const SHARED = serviceUrls();

const clients: SqlClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.close();
});

describe.each([
  ['Postgres', () => createPostgresClient({ url: SHARED.database, max: 2 })],
  ['PGlite', () => openPglite({ dataDir: 'memory://' })],
])('SqlApiKeyStore on %s', (_name, open) => {
  it('stores keys by hash, finds active ones, lists per tenant and revokes', async () => {
    const sql = await open();
    clients.push(sql);
    const table = uniqueName('api_keys');
    const store = new SqlApiKeyStore(sql, table);
    await store.migrate();
    await store.migrate(); // a second start applies nothing

    const made = [];
    for (const [tenant, scopes] of [
      ['acme', ['predict', 'chat']],
      ['acme', ['admin']],
      ['globex', ['decisions:read']],
    ] as const) {
      const { id, key } = newApiKey();
      const record = await store.insert({
        id,
        hash: hashApiKey(key),
        prefix: keyPrefix(key),
        tenant,
        scopes,
        name: `${tenant} key`,
        ratePerS: tenant === 'globex' ? 2.5 : null,
        burst: tenant === 'globex' ? 10 : null,
      });
      made.push({ id, key, record });
    }
    const [first, second, third] = made;
    expect(first!.record).toMatchObject({
      tenant: 'acme',
      scopes: ['predict', 'chat'],
      ratePerS: null,
      revokedAt: null,
    });
    expect(Date.parse(first!.record.createdAt)).not.toBeNaN();

    const found = await store.findActiveByHash(hashApiKey(third!.key));
    expect(found).toMatchObject({
      id: third!.id,
      tenant: 'globex',
      ratePerS: 2.5,
      burst: 10,
      hash: hashApiKey(third!.key),
    });
    expect(await store.findActiveByHash(hashApiKey('rg_other'))).toBeUndefined();

    expect((await store.list({ tenant: 'acme' })).map((k) => k.id).sort()).toEqual(
      [first!.id, second!.id].sort(),
    );
    expect(await store.list({})).toHaveLength(3);

    const revoked = await store.revoke(first!.id);
    expect(revoked?.revokedAt).not.toBeNull();
    expect((await store.revoke(first!.id))?.revokedAt).toBe(revoked?.revokedAt);
    expect(await store.findActiveByHash(hashApiKey(first!.key))).toBeUndefined();
    expect((await store.list({ tenant: 'acme' })).map((k) => k.id)).toEqual([second!.id]);
    expect(await store.list({ tenant: 'acme', includeRevoked: true })).toHaveLength(2);
    expect((await store.get(first!.id))?.revokedAt).toBe(revoked?.revokedAt);
    expect(await store.revoke('key_missing')).toBeUndefined();

    if (sql.kind === 'postgres') {
      await sql.exec(`DROP TABLE "${table}"; DROP TABLE "${table}_migrations"`);
    }
  }, 60_000);
});
