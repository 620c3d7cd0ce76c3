import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { freePort, serviceUrls, TcpFaultProxy } from '@regatta/testing';
import type { SqlClient } from './client.js';
import { createPostgresClient, type PostgresClientOptions } from './postgres.js';

const url = serviceUrls().database;

/** How long `promise` takes to settle, and how it settled. */
async function timed(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  try {
    await promise;
    return { ms: Date.now() - started, error: undefined };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

describe(createPostgresClient.name, () => {
  const clients: SqlClient[] = [];
  let proxy: TcpFaultProxy | undefined;

  function open(options: Partial<PostgresClientOptions> = {}): SqlClient {
    const client = createPostgresClient({ url, ...options });
    clients.push(client);
    return client;
  }

  beforeEach(() => {
    proxy = undefined;
  });

  afterEach(async () => {
    proxy?.restore();
    for (const client of clients.splice(0)) await client.close();
    await proxy?.stop();
  });

  it('rejects a URL that is not postgres:// without echoing it', () => {
    expect(() => createPostgresClient({ url: 'mysql://root:secret@db/x' })).toThrow(
      /database url must look like postgres:\/\//,
    );
    expect(() => createPostgresClient({ url: 'mysql://root:secret@db/x' })).not.toThrow(/secret/);
  });

  describe('pool exhaustion', () => {
    it('fails with UNAVAILABLE "database pool exhausted" once connectionTimeoutMs has passed', async () => {
      const client = open({ max: 1, connectionTimeoutMs: 300 });
      let release!: () => void;
      let inside!: () => void;
      const entered = new Promise<void>((resolve) => (inside = resolve));
      const holder = client.transaction(async (tx) => {
        await tx.query('SELECT 1');
        inside();
        await new Promise<void>((resolve) => (release = resolve));
      });
      await entered;

      const { ms, error } = await timed(client.query('SELECT 1'));
      expect(error).toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/^database pool exhausted: no connection free within 300 ms \(max 1/),
      });
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(1000);

      release();
      await holder;
      expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });
  });

  describe('connection failures', () => {
    it('fails fast with UNAVAILABLE when nothing listens on the port', async () => {
      const port = await freePort();
      const client = open({ url: `postgres://postgres@127.0.0.1:${port}/test`, connectionTimeoutMs: 2000 });
      const { ms, error } = await timed(client.query('SELECT 1'));
      expect(error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('ECONNREFUSED') });
      expect(ms).toBeLessThan(1000);
      expect(await client.health()).toMatchObject({
        status: 'down',
        detail: expect.stringContaining('ECONNREFUSED'),
      });
    });

    it('survives its idle connections being cut, reports down meanwhile, and reconnects after', async () => {
      proxy = await TcpFaultProxy.forUrl(url).start();
      const client = open({ url: proxy.urlFor(url), max: 3, connectionTimeoutMs: 500 });
      await Promise.all([1, 2, 3].map(() => client.query('SELECT pg_sleep(0.05)')));
      expect(proxy.activeConnections).toBe(3);

      // Without the pool's error listener this would crash the test process.
      proxy.cut();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await client.health()).toMatchObject({ status: 'down' });
      await expect(client.query('SELECT 1')).rejects.toMatchObject({ code: 'UNAVAILABLE' });

      proxy.restore();
      expect((await client.query<{ ok: boolean }>('SELECT true AS ok')).rows).toEqual([{ ok: true }]);
      expect((await client.health()).status).toBe('ok');
    });

    it('gives up on a connection that stops answering instead of hanging', async () => {
      proxy = await TcpFaultProxy.forUrl(url).start();
      const client = open({ url: proxy.urlFor(url), max: 1, statementTimeoutMs: 300 });
      await client.query('SELECT 1');
      proxy.blackhole();
      const { ms, error } = await timed(client.query('SELECT 1'));
      expect(error).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      // statementTimeoutMs + 1 s of grace for the client-side limit.
      expect(ms).toBeLessThan(2500);
      proxy.restore();
      // The silent connection was discarded; the pool opens a fresh one.
      expect((await client.query<{ n: number }>('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
    });
  });

  describe('transaction', () => {
    it('limits statements with SET LOCAL statement_timeout and leaves no session setting behind', async () => {
      const client = open({ max: 1, statementTimeoutMs: 200 });
      const before = await client.query<{ statement_timeout: string }>('SHOW statement_timeout');
      await expect(client.transaction((tx) => tx.query('SELECT pg_sleep(2)'))).rejects.toMatchObject({
        code: 'DEADLINE_EXCEEDED',
        details: { sqlstate: '57014' },
      });
      // Same (single) pooled connection: the setting ended with the transaction.
      const after = await client.query<{ statement_timeout: string }>('SHOW statement_timeout');
      expect(after.rows).toEqual(before.rows);
    });

    it('never creates named prepared statements', async () => {
      const client = open({ max: 1 });
      for (let i = 0; i < 3; i++) await client.query('SELECT $1::int AS n', [i]);
      await client.transaction((tx) => tx.query('SELECT $1::text AS s', ['x']));
      const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_prepared_statements');
      expect(rows).toEqual([{ n: '0' }]);
    });
  });
});
