import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type SqlClient, createPostgresClient } from '@regatta/db';
import { TcpFaultProxy, eventually, serviceUrls } from '@regatta/testing';
import { DecisionLog, type DecisionRow } from './decision-log.js';

function decision(id: string): DecisionRow {
  return {
    decision_id: id,
    tenant: 'acme',
    flow: 'fraud',
    outcome: 'review',
    score: 0.42,
    model: 'fraud',
    model_version: '1',
    reasons: JSON.stringify(['amount above the customer average']),
    explanation: null,
    degraded: JSON.stringify([]),
    inputs_hash: 'a'.repeat(64),
    latency_ms: 3.5,
    created_at: new Date().toISOString(),
  };
}

describe(`${DecisionLog.name} on a real Postgres behind a fault proxy`, () => {
  // Postgres as the gateway sees it (through a proxy the test can cut), and as the test reads it.
  let cut: TcpFaultProxy;
  let direct: SqlClient;
  beforeAll(async () => {
    [cut, direct] = [
      await TcpFaultProxy.forUrl(serviceUrls().database).start(),
      createPostgresClient({ url: serviceUrls().database, max: 1 }),
    ];
  });
  const spoolDirs: string[] = [];
  afterAll(async () => {
    await Promise.all([direct.close(), cut.stop()]);
    for (const dir of spoolDirs) rmSync(dir, { recursive: true, force: true });
  });
  /** A spool directory of its own, removed after the tests. */
  const newSpoolDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'decisions-spool-'));
    spoolDirs.push(dir);
    return dir;
  };

  const client = () =>
    createPostgresClient({ url: cut.urlFor(serviceUrls().database), max: 2, connectionTimeoutMs: 500 });

  async function stored(ids: string[]): Promise<number> {
    const { rows } = await direct.query<{ n: string }>(
      'SELECT count(*) AS n FROM decisions WHERE decision_id = ANY($1::uuid[])',
      [ids],
    );
    return Number(rows[0]!.n);
  }

  it('keeps decisions it could not write before stopping, and writes them on the next start', async () => {
    const spoolDir = newSpoolDir();
    const ids = Array.from({ length: 25 }, () => randomUUID());
    const firstSql = client();
    const first = await DecisionLog.open(firstSql, { spoolDir, closeTimeoutMs: 300, flushIntervalMs: 10 });
    first.record(decision(ids[0]!));
    await first.flush(5_000);
    cut.cut();
    for (const id of ids.slice(1)) first.record(decision(id));
    // Read back from memory while the database is away.
    await expect(first.get('acme', ids[1]!)).resolves.toMatchObject({ outcome: 'review' });
    await first.close();
    await firstSql.close();
    expect(await stored(ids)).toBe(1);
    expect(readdirSync(spoolDir).length).toBeGreaterThan(0);

    cut.restore();
    const secondSql = client();
    const second = await DecisionLog.open(secondSql, { spoolDir, flushIntervalMs: 10 });
    await second.flush(20_000);
    await second.close();
    await secondSql.close();
    expect(await stored(ids)).toBe(25);
    expect(readdirSync(spoolDir)).toEqual([]);
  }, 40_000);

  it('opens while Postgres is away, holds the decisions, and writes them once it is back', async () => {
    const spoolDir = newSpoolDir();
    const ids = Array.from({ length: 10 }, () => randomUUID());
    cut.cut();
    const sql = client();
    try {
      const log = await DecisionLog.open(sql, { spoolDir, flushIntervalMs: 10 });
      expect(log.health()).toMatchObject({ status: 'degraded' });
      for (const id of ids) log.record(decision(id));
      // Read back from memory; a decision that is not there cannot be looked up in the database yet.
      await expect(log.get('acme', ids[3]!)).resolves.toMatchObject({ decision_id: ids[3] });
      await expect(log.get('acme', randomUUID())).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      cut.restore();
      await eventually(
        () => log.health().status === 'ok',
        'the log to be healthy once Postgres is back',
        20_000,
        50,
      );
      await log.flush(20_000);
      expect(await stored(ids)).toBe(ids.length);
      await log.close();
    } finally {
      cut.restore();
      await sql.close();
    }
  }, 40_000);

  it('refuses a decision with OVERLOADED when the buffer is full, and spools only the accepted ones', async () => {
    const spoolDir = newSpoolDir();
    const sql = client();
    const log = await DecisionLog.open(sql, { spoolDir, maxBuffer: 2, closeTimeoutMs: 300 });
    cut.cut();
    log.record(decision(randomUUID()));
    log.record(decision(randomUUID()));
    expect(() => log.record(decision(randomUUID()))).toThrow(expect.objectContaining({ code: 'OVERLOADED' }));
    await log.close();
    await sql.close();
    cut.restore();
    // The two accepted decisions are in the spool; the refused one was answered with 503, not kept.
    const spooled = readdirSync(spoolDir).flatMap((name) =>
      readFileSync(path.join(spoolDir, name), 'utf8').trim().split('\n'),
    );
    expect(spooled).toHaveLength(2);
  }, 40_000);
});
