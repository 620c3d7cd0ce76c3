import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { serviceUrls, TcpFaultProxy, uniqueName } from '@regatta/testing';
import type { SqlClient } from './client.js';
import { openPglite } from './pglite.js';
import { createPostgresClient } from './postgres.js';
import { WriteBehindWriter } from './write-behind.js';

interface Decision {
  id: string;
  seq: number;
  payload: Record<string, unknown>;
  decided_at: Date;
}

const COLUMNS = ['id', 'seq', 'payload', 'decided_at'] as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A table with a commit-order column the writer does not set, to check rows land in the order they were added. */
async function createTable(client: SqlClient, table: string): Promise<void> {
  await client.exec(
    `CREATE TABLE ${table} (id text PRIMARY KEY, seq int NOT NULL, payload jsonb NOT NULL, decided_at timestamptz NOT NULL, commit_order bigserial)`,
  );
}

/** Row count, distinct ids, and whether commit order matches add order. */
async function audit(client: SqlClient, table: string) {
  const counts = await client.query<{ n: string; ids: string }>(
    `SELECT count(*) AS n, count(DISTINCT id) AS ids FROM ${table}`,
  );
  const order = await client.query<{ seq: number }>(`SELECT seq FROM ${table} ORDER BY commit_order`);
  const seqs = order.rows.map((r) => r.seq);
  return {
    rows: Number(counts.rows[0]!.n),
    distinctIds: Number(counts.rows[0]!.ids),
    inOrder: seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!),
  };
}

function decision(seq: number): Decision {
  return {
    id: `dec-${seq}`,
    seq,
    payload: { score: seq / 1000, label: seq % 2 === 0 ? 'allow' : 'review' },
    decided_at: new Date(),
  };
}

describe.each([
  ['postgres', () => Promise.resolve(createPostgresClient({ url: serviceUrls().database, max: 2 }))],
  ['pglite', () => openPglite({ dataDir: 'memory://' })],
])('WriteBehindWriter (%s)', (kind, open) => {
  let client: SqlClient;
  const table = uniqueName('wb_decisions');

  beforeAll(async () => {
    client = await open();
    await createTable(client, table);
  });

  afterAll(async () => {
    if (kind === 'postgres') await client.exec(`DROP TABLE IF EXISTS ${table}`);
    await client.close();
  });

  it('writes every row once, in order, with jsonb and timestamptz values intact', async () => {
    const writer = new WriteBehindWriter<Decision>({
      client,
      table,
      columns: COLUMNS,
      conflictKey: ['id'],
      batchSize: 100,
      flushIntervalMs: 10,
    });
    for (let seq = 0; seq < 1234; seq++) writer.add(decision(seq));
    await writer.addAndWait(decision(1234));
    const report = await writer.close();
    expect(report).toMatchObject({ written: 1235, duplicates: 0, rejected: 0, unwritten: 0 });
    expect(await audit(client, table)).toEqual({ rows: 1235, distinctIds: 1235, inOrder: true });
    const sample = await client.query<{ payload: unknown; decided_at: unknown }>(
      `SELECT payload, decided_at FROM ${table} WHERE id = 'dec-7'`,
    );
    expect(sample.rows[0]).toEqual({
      payload: { score: 0.007, label: 'review' },
      decided_at: expect.any(Date),
    });
  });

  it('drops only a row the database refuses and writes its neighbours', async () => {
    const writer = new WriteBehindWriter<Decision>({
      client,
      table,
      columns: COLUMNS,
      conflictKey: ['id'],
      batchSize: 50,
    });
    writer.add(decision(5000));
    const bad = writer.addAndWait({ ...decision(5001), seq: null } as unknown as Decision);
    writer.add(decision(5002));
    await expect(bad).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { sqlstate: '23502' } });
    expect(await writer.close()).toMatchObject({ written: 2, rejected: 1, unwritten: 0 });
    const { rows } = await client.query<{ id: string }>(
      `SELECT id FROM ${table} WHERE seq >= 5000 ORDER BY seq`,
    );
    expect(rows.map((r) => r.id)).toEqual(['dec-5000', 'dec-5002']);
  });
});

describe('WriteBehindWriter through a failing network (postgres)', () => {
  const url = serviceUrls().database;
  let direct: SqlClient;

  beforeAll(() => {
    direct = createPostgresClient({ url, max: 1 });
  });

  afterAll(async () => {
    await direct.close();
  });

  it('writes every accepted row exactly once when Postgres is cut off mid-stream and comes back', async () => {
    const table = uniqueName('wb_outage');
    await createTable(direct, table);
    const proxy = await TcpFaultProxy.forUrl(url, { latencyMs: 5 }).start();
    const client = createPostgresClient({
      url: proxy.urlFor(url),
      max: 4,
      connectionTimeoutMs: 500,
      statementTimeoutMs: 3000,
    });
    const writer = new WriteBehindWriter<Decision>({
      client,
      table,
      columns: COLUMNS,
      conflictKey: ['id'],
      batchSize: 50,
      flushIntervalMs: 10,
      maxBuffer: 100_000,
      retry: { initialDelayMs: 20, maxDelayMs: 250 },
      closeTimeoutMs: 20_000,
    });

    let seq = 0;
    let accepted = 0;
    // About 1000 rows/s, written continuously through every phase.
    const produce = async (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        for (let i = 0; i < 5; i++) {
          writer.add(decision(seq++));
          accepted += 1;
        }
        await sleep(5);
      }
    };

    try {
      await produce(400);
      for (let outage = 0; outage < 3; outage++) {
        // Cut while batches are in flight: some commit with their reply lost, and are re-sent.
        proxy.cut();
        await produce(600);
        expect(writer.health()).toMatchObject({
          status: 'degraded',
          detail: expect.stringContaining('database failing'),
        });
        expect((await client.health()).status).toBe('down');
        proxy.restore();
        await produce(400);
      }
      const report = await writer.close();

      expect(report.unwritten).toBe(0);
      expect(report.rejected).toBe(0);
      expect(report.retries).toBeGreaterThan(0);
      expect(report.written + report.duplicates).toBe(accepted);
      expect(proxy.stats.killed + proxy.stats.refused).toBeGreaterThan(0);
      expect(await audit(direct, table)).toEqual({ rows: accepted, distinctIds: accepted, inOrder: true });
      expect(accepted).toBeGreaterThan(1500);
    } finally {
      await client.close();
      await proxy.stop();
      await direct.exec(`DROP TABLE IF EXISTS ${table}`);
    }
  });

  it('re-sends a batch whose commit reply was lost without duplicating a row', async () => {
    const table = uniqueName('wb_lost_reply');
    await createTable(direct, table);
    const proxy = await TcpFaultProxy.forUrl(url).start();
    const client = createPostgresClient({ url: proxy.urlFor(url), max: 1, connectionTimeoutMs: 300 });
    const writer = new WriteBehindWriter<Decision>({
      client,
      table,
      columns: COLUMNS,
      conflictKey: ['id'],
      retry: { initialDelayMs: 20, maxDelayMs: 50 },
    });
    try {
      await writer.addAndWait(decision(0)); // opens the connection while the network is fast
      // 150 ms each way: the INSERT commits at ~150 ms and its reply would arrive at ~300 ms.
      proxy.setLatency(150);
      writer.addMany(Array.from({ length: 10 }, (_, i) => decision(i + 1)));
      const flushed = writer.flush();
      await sleep(225);
      proxy.cut();
      proxy.setLatency(0);
      expect((await audit(direct, table)).rows).toBe(11); // committed, but the writer never heard so
      await sleep(100);
      proxy.restore();
      await flushed;
      expect(writer.stats()).toMatchObject({ written: 1, duplicates: 10, rejected: 0 });
      expect(await audit(direct, table)).toEqual({ rows: 11, distinctIds: 11, inOrder: true });
    } finally {
      await writer.close();
      await client.close();
      await proxy.stop();
      await direct.exec(`DROP TABLE IF EXISTS ${table}`);
    }
  });

  it('reports the rows it could not write when Postgres stays away past the close timeout', async () => {
    const table = uniqueName('wb_gone');
    await createTable(direct, table);
    const proxy = await TcpFaultProxy.forUrl(url).start();
    const client = createPostgresClient({ url: proxy.urlFor(url), max: 2, connectionTimeoutMs: 300 });
    const writer = new WriteBehindWriter<Decision>({
      client,
      table,
      columns: COLUMNS,
      conflictKey: ['id'],
      flushIntervalMs: 10,
      retry: { initialDelayMs: 20, maxDelayMs: 100 },
      closeTimeoutMs: 500,
    });
    try {
      for (let seq = 0; seq < 20; seq++) writer.add(decision(seq));
      await writer.flush();
      proxy.cut();
      const lost = writer.addAndWait(decision(20));
      for (let seq = 21; seq < 30; seq++) writer.add(decision(seq));
      const started = Date.now();
      const report = await writer.close();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(report).toMatchObject({ written: 20, unwritten: 10 });
      await expect(lost).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect((await audit(direct, table)).rows).toBe(20);
    } finally {
      await client.close();
      await proxy.stop();
      await direct.exec(`DROP TABLE IF EXISTS ${table}`);
    }
  });
});
