import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type SqlClient, createPostgresClient } from '@regatta/db';
import { TcpFaultProxy, eventually, serviceUrls, uniqueName } from '@regatta/testing';
import { tempDir } from '../testing/harness.js';
import { type UsageRow, UsageLedger } from './ledger.js';

function row(id: string): UsageRow {
  return {
    request_id: id,
    tenant: 't',
    user_id: 'u',
    model: 'gpt-4o-mini',
    provider: 'fake',
    prompt_tokens: 10,
    completion_tokens: 5,
    cached_tokens: 4,
    cost_usd: 0.0000042,
    cache_status: 'MISS',
    cost_avoided_usd: 0,
    latency_ms: 12.5,
    usage_estimated: false,
    stream: true,
    outcome: 'ok',
    price_version: 'test',
    created_at: new Date().toISOString(),
  };
}

describe(`${UsageLedger.name} on a real Postgres behind a fault proxy`, () => {
  let cut: TcpFaultProxy;
  let direct: SqlClient;

  beforeAll(async () => {
    cut = await TcpFaultProxy.forUrl(serviceUrls().database).start();
    direct = createPostgresClient({ url: serviceUrls().database, max: 2 });
  });
  afterAll(async () => {
    await direct.close();
    await cut.stop();
  });

  async function count(table: string): Promise<{ rows: number; ids: number }> {
    const res = await direct.query<{ rows: string; ids: string }>(
      `SELECT count(*) AS rows, count(DISTINCT request_id) AS ids FROM ${table}`,
    );
    return { rows: Number(res.rows[0]!.rows), ids: Number(res.rows[0]!.ids) };
  }

  function open(
    table: string,
    spoolDir: string,
    closeTimeoutMs = 5_000,
    maxBuffer?: number,
    spoolRecoverEveryMs?: number,
  ) {
    const client = createPostgresClient({
      url: cut.urlFor(serviceUrls().database),
      max: 2,
      connectionTimeoutMs: 500,
    });
    const ledger = UsageLedger.start({
      client,
      table,
      spoolDir,
      closeTimeoutMs,
      flushIntervalMs: 20,
      ...(maxBuffer !== undefined && { maxBuffer }),
      ...(spoolRecoverEveryMs !== undefined && { spoolRecoverEveryMs }),
    });
    return { client, ledger };
  }

  it('records every request exactly once when Postgres is cut off mid-run and restored', async () => {
    const table = uniqueName('llm_usage');
    const { client, ledger } = open(table, tempDir('llm-spool-'));
    await ledger.ready;
    for (let i = 0; i < 50; i++) ledger.record(row(`req-${i}`));
    await new Promise((r) => setTimeout(r, 50));
    cut.cut();
    for (let i = 50; i < 100; i++) ledger.record(row(`req-${i}`));
    // The same request recorded again (a retried delivery) must not add a row.
    for (let i = 0; i < 10; i++) ledger.record(row(`req-${i}`));
    await new Promise((r) => setTimeout(r, 500));
    expect(ledger.health().status).toBe('degraded');
    cut.restore();
    await ledger.flush(20_000);
    expect(await count(table)).toEqual({ rows: 100, ids: 100 });
    await ledger.close();
    await client.close();
  }, 40_000);

  it('keeps rows it could not write before stopping, and writes them on the next start', async () => {
    const table = uniqueName('llm_usage');
    const spool = tempDir('llm-spool-');
    const first = open(table, spool, 300);
    await first.ledger.ready;
    cut.cut();
    for (let i = 0; i < 30; i++) first.ledger.record(row(`stop-${i}`));
    await first.ledger.close();
    await first.client.close();
    expect(readdirSync(spool).length).toBeGreaterThan(0);
    cut.restore();
    const second = open(table, spool);
    await second.ledger.ready;
    await second.ledger.flush(20_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(await count(table)).toEqual({ rows: 30, ids: 30 });
    await second.ledger.close();
    await second.client.close();
    expect(readdirSync(spool)).toEqual([]);
  }, 40_000);

  it('writes the rows a full buffer spooled during an outage once Postgres is back, without a restart', async () => {
    const table = uniqueName('llm_usage');
    const spool = tempDir('llm-spool-');
    const { client, ledger } = open(table, spool, 5_000, 5, 100);
    await ledger.ready;
    cut.cut();
    for (let i = 0; i < 40; i++) ledger.record(row(`live-${i}`));
    // Five rows wait in the buffer; the other 35 went to the spool as they came.
    expect(ledger.unconfirmed).toBe(5);
    await eventually(() => readdirSync(spool).length > 0, 'rows spooled');
    cut.restore();
    await eventually(
      async () => (await count(table)).rows === 40 && readdirSync(spool).length === 0,
      'all 40 rows in Postgres and the spool empty',
      30_000,
      100,
    );
    expect(await count(table)).toEqual({ rows: 40, ids: 40 });
    await ledger.close();
    await client.close();
  }, 60_000);

  it('spools the rows a full buffer turns away during an outage, and writes them on the next start', async () => {
    const table = uniqueName('llm_usage');
    const spool = tempDir('llm-spool-');
    const first = open(table, spool, 300, 5);
    await first.ledger.ready;
    cut.cut();
    for (let i = 0; i < 40; i++) first.ledger.record(row(`full-${i}`));
    // Five rows wait in the buffer; the other 35 went to the spool as they came.
    expect(first.ledger.unconfirmed).toBe(5);
    await first.ledger.close();
    await first.client.close();
    cut.restore();
    // The next start replays more rows than its buffer holds: the rest stay spooled for the one after.
    const second = open(table, spool, 5_000, 5);
    await second.ledger.ready;
    await second.ledger.flush(20_000);
    await second.ledger.close();
    await second.client.close();
    const third = open(table, spool);
    await third.ledger.ready;
    await third.ledger.flush(20_000);
    await third.ledger.close();
    await third.client.close();
    expect(await count(table)).toEqual({ rows: 40, ids: 40 });
    expect(readdirSync(spool)).toEqual([]);
  }, 60_000);
});
