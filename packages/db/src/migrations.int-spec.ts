import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { serviceUrls, uniqueName } from '@regatta/testing';
import type { SqlClient } from './client.js';
import { runMigrations, type Migration } from './migrations.js';
import { openPglite } from './pglite.js';
import { createPostgresClient } from './postgres.js';

/** Migrations that fail if run twice (no IF NOT EXISTS), for a fresh set of table names. */
function migrationSet(): { migrations: Migration[]; ledger: string; keys: string; journal: string } {
  const ledger = uniqueName('mig_ledger');
  const keys = uniqueName('mig_keys');
  const journal = uniqueName('mig_journal');
  return {
    ledger,
    keys,
    journal,
    migrations: [
      { id: '001_ledger', sql: `CREATE TABLE ${ledger} (id bigint PRIMARY KEY, tokens int NOT NULL);` },
      {
        id: '002_keys',
        // Several statements in one migration, as a file would hold them.
        sql: `CREATE TABLE ${keys} (hash text PRIMARY KEY);\nINSERT INTO ${keys} (hash) VALUES ('seed');`,
      },
    ],
  };
}

describe.each([
  ['postgres', () => Promise.resolve(createPostgresClient({ url: serviceUrls().database, max: 4 }))],
  ['pglite', () => openPglite({ dataDir: 'memory://' })],
])('runMigrations (%s)', (kind, open) => {
  let client: SqlClient;
  const dropLater: string[] = [];

  beforeAll(async () => {
    client = await open();
  });

  afterAll(async () => {
    if (kind === 'postgres')
      for (const table of dropLater) await client.exec(`DROP TABLE IF EXISTS ${table}`);
    await client.close();
  });

  function fresh() {
    const set = migrationSet();
    const table = uniqueName('schema_migrations');
    dropLater.push(set.ledger, set.keys, set.journal, table);
    return { ...set, table };
  }

  it('applies each migration once, in order, and skips it on the next start', async () => {
    const { migrations, table, keys } = fresh();
    expect(await runMigrations(client, migrations, { table })).toEqual({
      applied: ['001_ledger', '002_keys'],
      skipped: [],
    });
    expect(await runMigrations(client, migrations, { table })).toEqual({
      applied: [],
      skipped: ['001_ledger', '002_keys'],
    });
    const seeded = await client.query(`SELECT hash FROM ${keys}`);
    expect(seeded.rows).toEqual([{ hash: 'seed' }]);
    const recorded = await client.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY applied_at, id`);
    expect(recorded.rows.map((r) => r.id)).toEqual(['001_ledger', '002_keys']);
  });

  it('applies only the new migration of a later release', async () => {
    const { migrations, table, journal } = fresh();
    await runMigrations(client, migrations, { table });
    const next = [...migrations, { id: '003_journal', sql: `CREATE TABLE ${journal} (at timestamptz)` }];
    expect(await runMigrations(client, next, { table })).toEqual({
      applied: ['003_journal'],
      skipped: ['001_ledger', '002_keys'],
    });
  });

  it('leaves no trace of a failing migration, so the next start retries it', async () => {
    const { migrations, table, ledger } = fresh();
    const broken = [
      migrations[0]!,
      { id: '002_broken', sql: `INSERT INTO ${ledger} (id, tokens) VALUES (1, 1); SELECT 1/0;` },
    ];
    await expect(runMigrations(client, broken, { table })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { sqlstate: '22012' },
    });
    const rows = await client.query(`SELECT * FROM ${ledger}`);
    expect(rows.rowCount).toBe(0);
    const recorded = await client.query<{ id: string }>(`SELECT id FROM ${table}`);
    expect(recorded.rows.map((r) => r.id)).toEqual(['001_ledger']);
  });

  it('refuses with CONFLICT when an applied migration was edited', async () => {
    const { migrations, table } = fresh();
    await runMigrations(client, migrations, { table });
    const edited = [{ ...migrations[0]!, sql: `${migrations[0]!.sql} -- tweaked` }, migrations[1]!];
    await expect(runMigrations(client, edited, { table })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('001_ledger was changed after it was applied'),
    });
  });

  it('rejects duplicate ids before touching the database', async () => {
    const { migrations, table } = fresh();
    await expect(runMigrations(client, [migrations[0]!, migrations[0]!], { table })).rejects.toThrow(
      /appears twice/,
    );
    const exists = await client.query(`SELECT 1 FROM information_schema.tables WHERE table_name = $1`, [
      table,
    ]);
    expect(exists.rowCount).toBe(0);
  });
});

describe('runMigrations (concurrent starters)', () => {
  it('serialises replicas starting at once so each migration runs exactly once', async () => {
    const url = serviceUrls().database;
    const replicas = Array.from({ length: 4 }, () => createPostgresClient({ url, max: 1 }));
    const { migrations, ledger, keys } = migrationSet();
    const table = uniqueName('schema_migrations');
    try {
      // Without the advisory lock, two replicas would both try CREATE TABLE and one would fail.
      const reports = await Promise.all(
        replicas.map((replica) => runMigrations(replica, migrations, { table })),
      );
      const appliedCounts = reports.map((r) => r.applied.length);
      expect(appliedCounts.reduce((a, b) => a + b, 0)).toBe(2);
      const seeded = await replicas[0]!.query(`SELECT count(*) AS n FROM ${keys}`);
      expect(seeded.rows).toEqual([{ n: '1' }]);
    } finally {
      await replicas[0]!.exec(`DROP TABLE IF EXISTS ${ledger}, ${keys}, ${table}`);
      await Promise.all(replicas.map((replica) => replica.close()));
    }
  });
});
