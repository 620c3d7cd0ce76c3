import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { TcpFaultProxy, eventually, serviceUrls, uniqueName } from '@regatta/testing';
import { BackgroundSchema } from './background-schema.js';
import type { SqlClient } from './client.js';
import { createPostgresClient } from './postgres.js';

function tableMigrations(table: string) {
  return [{ id: `001_${table}`, sql: `CREATE TABLE ${table} (id text PRIMARY KEY)` }];
}

describe(`${BackgroundSchema.name} on a real Postgres behind a fault proxy`, () => {
  let proxy: TcpFaultProxy;
  let direct: SqlClient;
  const clients: SqlClient[] = [];
  beforeAll(async () => {
    proxy = await TcpFaultProxy.forUrl(serviceUrls().database).start();
    direct = createPostgresClient({ url: serviceUrls().database, max: 1 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await direct.close();
    await proxy.stop();
  });
  const throughProxy = () => {
    const client = createPostgresClient({
      url: proxy.urlFor(serviceUrls().database),
      max: 2,
      connectionTimeoutMs: 500,
    });
    clients.push(client);
    return client;
  };
  /** A schema of one new table, applied through the proxy. */
  const schemaOf = (table: string, retry: { firstRetryMs?: number; maxRetryMs?: number } = {}) =>
    new BackgroundSchema(throughProxy(), tableMigrations(table), {
      what: 'the test store',
      table: `${table}_migrations`,
      ...retry,
    });
  const tableExists = async (table: string) =>
    (await direct.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [table])).rows[0]!.t !== null;

  it('applies the schema at once when the database is up', async () => {
    const table = uniqueName('bg_schema_up');
    const schema = schemaOf(table);
    expect(await schema.firstAttempt).toBe(true);
    expect(await schema.ready).toBe(true);
    expect(schema.applied).toBe(true);
    expect(() => schema.check()).not.toThrow();
    expect(schema.health()).toEqual({ status: 'ok' });
    expect(await tableExists(table)).toBe(true);
    schema.close();
  });

  it('fails fast with UNAVAILABLE while the database is away and applies the schema once it is back', async () => {
    const table = uniqueName('bg_schema_outage');
    proxy.cut();
    try {
      const schema = schemaOf(table, { firstRetryMs: 20, maxRetryMs: 100 });
      expect(await schema.firstAttempt).toBe(false);
      expect(schema.applied).toBe(false);
      let refusal: unknown;
      try {
        schema.check();
      } catch (err) {
        refusal = err;
      }
      expect(refusal).toBeInstanceOf(RegattaError);
      expect((refusal as RegattaError).code).toBe('UNAVAILABLE');
      expect((refusal as RegattaError).message).toMatch(
        /^the test store is not ready: its database schema is not applied yet \(.+\)$/,
      );
      // It keeps trying: several attempts while the proxy refuses, each counted in the health detail.
      await eventually(
        () => /after ([3-9]|\d\d+) attempts/.test(schema.health().detail ?? ''),
        'several attempts while the database is away',
      );
      expect(schema.health().status).toBe('down');
      expect(await tableExists(table)).toBe(false);

      proxy.restore();
      expect(await schema.ready).toBe(true);
      expect(schema.applied).toBe(true);
      expect(schema.health()).toEqual({ status: 'ok' });
      expect(await tableExists(table)).toBe(true);
      schema.close();
    } finally {
      proxy.restore();
    }
  });

  it('stops trying when closed, and ready then says the schema was not applied', async () => {
    const table = uniqueName('bg_schema_closed');
    proxy.cut();
    try {
      const schema = schemaOf(table, { firstRetryMs: 10_000 });
      expect(await schema.firstAttempt).toBe(false);
      // Closing wakes the pause between attempts: ready settles now, not after the 10 s pause.
      schema.close();
      expect(await schema.ready).toBe(false);
      expect(() => schema.check()).toThrow('the test store is closed');
      proxy.restore();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await tableExists(table)).toBe(false);
    } finally {
      proxy.restore();
    }
  });
});
