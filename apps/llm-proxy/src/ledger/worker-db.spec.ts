import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { type SqlClient } from '@regatta/db';
import { openPgliteWorker } from './worker-db.js';

describe(openPgliteWorker.name, () => {
  let db: SqlClient;

  beforeAll(async () => {
    db = await openPgliteWorker({ dataDir: 'memory://' });
    await db.exec('CREATE TABLE items (id text PRIMARY KEY, n int8 NOT NULL, at timestamptz NOT NULL)');
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('runs parameterised statements and returns values as openPglite does', async () => {
    const at = new Date('2026-01-02T03:04:05.000Z');
    const inserted = await db.query('INSERT INTO items (id, n, at) VALUES ($1, $2, $3), ($4, $5, $6)', [
      'a',
      1,
      at.toISOString(),
      'b',
      2,
      at.toISOString(),
    ]);
    expect(inserted.rowCount).toBe(2);
    const { rows } = await db.query<{ id: string; n: string; at: Date }>(
      'SELECT id, n, at FROM items ORDER BY id',
    );
    // int8 comes back as a string and timestamptz as a Date, whichever client runs.
    expect(rows).toEqual([
      { id: 'a', n: '1', at },
      { id: 'b', n: '2', at },
    ]);
  });

  it('maps database errors to the same typed errors', async () => {
    const duplicate = db.query('INSERT INTO items (id, n, at) VALUES ($1, 3, now())', ['a']);
    await expect(duplicate).rejects.toBeInstanceOf(RegattaError);
    await expect(duplicate).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('commits a transaction, and rolls one back when its body throws (rethrowing the same error)', async () => {
    await db.transaction(async (tx) => {
      await tx.query("INSERT INTO items (id, n, at) VALUES ('c', 3, now())");
      await tx.exec("UPDATE items SET n = 30 WHERE id = 'c'");
    });
    const boom = new Error('changed my mind');
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO items (id, n, at) VALUES ('d', 4, now())");
        throw boom;
      }),
    ).rejects.toBe(boom);
    const { rows } = await db.query<{ id: string; n: string }>(
      "SELECT id, n FROM items WHERE id IN ('c', 'd') ORDER BY id",
    );
    expect(rows).toEqual([{ id: 'c', n: '30' }]);
  });

  it('keeps the event loop free while a statement runs', async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    try {
      // Hundreds of milliseconds of WASM work: on the calling thread no timer could fire meanwhile.
      await db.query('SELECT count(*) FROM generate_series(1, 3000000)');
    } finally {
      clearInterval(ticker);
    }
    expect(ticks).toBeGreaterThanOrEqual(5);
  });

  it('reports health, and refuses statements once closed', async () => {
    const other = await openPgliteWorker({ dataDir: 'memory://' });
    expect(await other.health()).toMatchObject({ status: 'ok' });
    await other.close();
    await expect(other.query('SELECT 1')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await other.health()).toMatchObject({ status: 'down' });
  }, 60_000);

  it('replaces a database thread that died: only the calls it held fail, and the data is still there', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'regatta-ledger-'));
    const crashing = await openPgliteWorker({
      dataDir: path.join(dir, 'db'),
      script: new URL('./__fixtures__/crashing-pglite-worker.mjs', import.meta.url),
      restartDelayMs: 0,
    });
    try {
      await crashing.exec('CREATE TABLE kept (id text PRIMARY KEY)');
      await crashing.query("INSERT INTO kept (id) VALUES ('before the crash')");
      await expect(crashing.query("SELECT 'crash'")).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      const { rows } = await crashing.query<{ id: string }>('SELECT id FROM kept');
      expect(rows).toEqual([{ id: 'before the crash' }]);
      expect(await crashing.health()).toMatchObject({ status: 'ok' });
    } finally {
      await crashing.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
