import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { serviceUrls, uniqueName } from '@regatta/testing';
import type { SqlClient } from './client.js';
import { openPglite } from './pglite.js';
import { createPostgresClient } from './postgres.js';

// The same behaviour is required of the server client and the embedded one.
describe.each([
  ['postgres', () => Promise.resolve(createPostgresClient({ url: serviceUrls().database, max: 2 }))],
  ['pglite', () => openPglite({ dataDir: 'memory://' })],
])('SqlClient (%s)', (kind, open) => {
  let client: SqlClient;
  const table = uniqueName('client_items');

  beforeAll(async () => {
    client = await open();
    await client.exec(
      `CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL, tags jsonb); CREATE INDEX ON ${table} (name)`,
    );
  });

  afterAll(async () => {
    if (kind === 'postgres') await client.exec(`DROP TABLE IF EXISTS ${table}`);
    await client.close();
  });

  it('reports its kind', () => {
    expect(client.kind).toBe(kind);
  });

  describe('query', () => {
    it('binds parameters and reports the rows a write touched', async () => {
      const insert = await client.query(
        `INSERT INTO ${table} (id, name, tags) VALUES ($1, $2, $3), ($4, $5, $6)`,
        [1, 'one', { a: 1 }, 2, 'two', null],
      );
      expect(insert.rowCount).toBe(2);
      const read = await client.query<{ id: number; name: string; tags: unknown }>(
        `SELECT id, name, tags FROM ${table} WHERE id <= $1 ORDER BY id`,
        [2],
      );
      expect(read.rows).toEqual([
        { id: 1, name: 'one', tags: { a: 1 } },
        { id: 2, name: 'two', tags: null },
      ]);
      expect(read.rowCount).toBe(2);
    });

    it('returns bigint and count(*) as strings on both clients', async () => {
      const { rows } = await client.query<{ n: unknown; big: unknown }>(
        `SELECT count(*) AS n, 9007199254740993::int8 AS big FROM ${table}`,
      );
      expect(rows[0]).toEqual({ n: expect.any(String), big: '9007199254740993' });
    });

    it('maps a unique violation to CONFLICT with its SQLSTATE', async () => {
      await client.query(`INSERT INTO ${table} (id, name) VALUES (10, 'ten')`);
      await expect(
        client.query(`INSERT INTO ${table} (id, name) VALUES (10, 'again')`),
      ).rejects.toMatchObject({
        code: 'CONFLICT',
        details: { sqlstate: '23505' },
      });
    });

    it('maps a syntax error to INTERNAL naming the problem', async () => {
      await expect(client.query('SELEC 1')).rejects.toMatchObject({
        code: 'INTERNAL',
        message: expect.stringContaining('syntax error'),
        details: { sqlstate: '42601' },
      });
    });
  });

  describe('transaction', () => {
    it('commits every statement of fn together', async () => {
      const result = await client.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id, name) VALUES (20, 'a')`);
        await tx.query(`INSERT INTO ${table} (id, name) VALUES (21, 'b')`);
        return 'done';
      });
      expect(result).toBe('done');
      const { rows } = await client.query(`SELECT id FROM ${table} WHERE id IN (20, 21)`);
      expect(rows).toHaveLength(2);
    });

    it('rolls everything back and rethrows the error of fn unchanged', async () => {
      const failure = new Error('business rule broken');
      await expect(
        client.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (id, name) VALUES (30, 'gone')`);
          throw failure;
        }),
      ).rejects.toBe(failure);
      const { rows } = await client.query(`SELECT id FROM ${table} WHERE id = 30`);
      expect(rows).toHaveLength(0);
    });
  });

  describe('health', () => {
    it('is ok while the database answers', async () => {
      expect((await client.health()).status).toBe('ok');
    });
  });
});

describe('close', () => {
  it.each([
    ['postgres', () => Promise.resolve(createPostgresClient({ url: serviceUrls().database }))],
    ['pglite', () => openPglite({ dataDir: 'memory://' })],
  ])('makes %s report down and refuse queries with UNAVAILABLE', async (_kind, open) => {
    const client = await open();
    await client.query('SELECT 1');
    await client.close();
    await client.close();
    expect(await client.health()).toEqual({ status: 'down', detail: 'client closed' });
    await expect(client.query('SELECT 1')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe(openPglite.name, () => {
  it('keeps data in its data directory across close and reopen', async () => {
    const parent = await mkdtemp(path.join(tmpdir(), 'regatta-pglite-'));
    // Directories above the data directory do not exist yet, as on a fresh checkout.
    const dataDir = path.join(parent, 'data', 'llm-proxy', 'db');
    try {
      const first = await openPglite({ dataDir });
      await first.exec('CREATE TABLE usage_ledger (id text PRIMARY KEY, tokens int NOT NULL)');
      await first.query('INSERT INTO usage_ledger VALUES ($1, $2)', ['req-1', 42]);
      await first.close();

      const second = await openPglite({ dataDir });
      const { rows } = await second.query('SELECT id, tokens FROM usage_ledger');
      await second.close();
      expect(rows).toEqual([{ id: 'req-1', tokens: 42 }]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('rejects an empty dataDir with INVALID_ARGUMENT', async () => {
    await expect(openPglite({ dataDir: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
