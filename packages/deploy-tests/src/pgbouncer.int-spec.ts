import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import {
  WriteBehindWriter,
  createPostgresClient,
  runMigrations,
  type Migration,
  type PostgresClientOptions,
  type SqlClient,
} from '@regatta/db';
import { uniqueName } from '@regatta/testing';
import { parseIni } from './ini.js';
import { readRepoFile } from './repo.js';
import { startPgBouncer, type RunningPgBouncer } from './testing/pgbouncer.js';

// The machine's Postgres (trust auth), reached only through the PgBouncer each test starts.
const UPSTREAM = { test: 'host=127.0.0.1 port=5432 dbname=test' };
const USER = 'postgres';
const PASSWORD = 'pgbouncer-test-secret';
const shipped = () => parseIni(readRepoFile('infrastructure/pgbouncer/pgbouncer.ini'), 'pgbouncer.ini');

async function failure(promise: Promise<unknown>): Promise<{ error: RegattaError; ms: number }> {
  const started = performance.now();
  try {
    await promise;
  } catch (err) {
    if (!(err instanceof RegattaError)) throw err;
    return { error: err, ms: performance.now() - started };
  }
  throw new Error('expected the call to fail');
}

describe('PgBouncer with the shipped pgbouncer.ini', () => {
  let bouncer: RunningPgBouncer;
  let db: SqlClient;
  const clients: SqlClient[] = [];
  const tables: string[] = [];

  beforeAll(async () => {
    // The shipped settings (transaction pooling, pool sizes, timeouts, SCRAM auth) unchanged.
    bouncer = await startPgBouncer({ ini: shipped(), databases: UPSTREAM, user: USER, password: PASSWORD });
    db = createPostgresClient({ url: bouncer.url('test'), max: 10, applicationName: 'deploy-tests' });
    clients.push(db);
  });

  afterAll(async () => {
    for (const table of tables) await db.exec(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    for (const client of clients) await client.close();
    await bouncer.stop();
  });

  it('serves parameterized queries from many clients without prepared-statement mix-ups', async () => {
    const second = createPostgresClient({ url: bouncer.url('test'), max: 10 });
    clients.push(second);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 ? db : second).query<{ n: number; label: string }>('SELECT $1::int AS n, $2::text AS label', [
          i,
          `row-${i}`,
        ]),
      ),
    );
    results.forEach((result, i) => expect(result.rows[0]).toEqual({ n: i, label: `row-${i}` }));
  });

  it('refuses a client with the wrong password', async () => {
    const intruder = createPostgresClient({
      url: bouncer.url('test').replace(encodeURIComponent(PASSWORD), 'wrong'),
      connectionTimeoutMs: 2000,
    });
    clients.push(intruder);
    const { error } = await failure(intruder.query('SELECT 1'));
    expect(error.code).toBe('UNAVAILABLE');
  });

  it('runs migrations exactly once when two replicas start together', async () => {
    const table = uniqueName('deploy_mig');
    const ledger = uniqueName('deploy_mig_ledger');
    tables.push(table, ledger);
    const migrations: Migration[] = [
      { id: '001_create', sql: `CREATE TABLE ${table} (id int PRIMARY KEY, note text)` },
      { id: '002_seed', sql: `INSERT INTO ${table} VALUES (1, 'seeded')` },
    ];
    const other = createPostgresClient({ url: bouncer.url('test'), max: 2 });
    clients.push(other);
    const [a, b] = await Promise.all([
      runMigrations(db, migrations, { table: ledger }),
      runMigrations(other, migrations, { table: ledger }),
    ]);
    expect([...a.applied, ...b.applied].sort()).toEqual(['001_create', '002_seed']);
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    expect(rows[0]?.n).toBe(1);
  });

  it('keeps a statement timeout inside its transaction (SET LOCAL works in transaction mode)', async () => {
    const strict = createPostgresClient({ url: bouncer.url('test'), statementTimeoutMs: 300 });
    clients.push(strict);
    const { error, ms } = await failure(strict.transaction((tx) => tx.query('SELECT pg_sleep(3)')));
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(ms).toBeLessThan(1500);
    // The next transaction on the same pooled server connection is not limited any more.
    const { rows } = await db.transaction((tx) =>
      tx.query<{ timeout: string }>("SELECT current_setting('statement_timeout') AS timeout"),
    );
    expect(rows[0]?.timeout).not.toBe('300ms');
  });

  it('writes every row of a write-behind writer exactly once', async () => {
    const table = uniqueName('deploy_wb');
    tables.push(table);
    await db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY, tenant text NOT NULL, score real NOT NULL)`);
    const writer = new WriteBehindWriter<{ id: number; tenant: string; score: number }>({
      client: db,
      table,
      columns: ['id', 'tenant', 'score'],
      conflictKey: ['id'],
      batchSize: 250,
      flushIntervalMs: 20,
    });
    for (let i = 0; i < 2000; i++) writer.add({ id: i, tenant: `t${i % 7}`, score: i / 2000 });
    await writer.addAndWait({ id: 2000, tenant: 't0', score: 1 });
    const report = await writer.close();
    expect(report.written).toBe(2001);
    expect(report.unwritten).toBe(0);
    const { rows } = await db.query<{ n: number; ids: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM ${table}`,
    );
    expect(rows[0]).toEqual({ n: 2001, ids: 2001 });
  });
});

describe('PgBouncer pool exhaustion', () => {
  let bouncer: RunningPgBouncer;
  let clients: SqlClient[] = [];
  const client = (target: RunningPgBouncer, options: Partial<PostgresClientOptions> = {}) => {
    const c = createPostgresClient({ url: target.url('test'), max: 1, ...options });
    clients.push(c);
    return c;
  };

  /** Holds one transaction open, and with it PgBouncer's only server connection, until released. */
  async function hold(db: SqlClient): Promise<{ release: () => Promise<void> }> {
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let started = () => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    const done = db.transaction(async (tx) => {
      await tx.query('SELECT 1');
      started();
      await released;
    });
    await running;
    return {
      release: async () => {
        release();
        await done;
      },
    };
  }

  beforeAll(async () => {
    // One server connection in total; a client waits at most 3 s for it.
    bouncer = await startPgBouncer({
      ini: shipped(),
      databases: UPSTREAM,
      user: USER,
      password: PASSWORD,
      settings: {
        default_pool_size: '1',
        max_db_connections: '1',
        reserve_pool_size: '0',
        query_wait_timeout: '3',
      },
    });
  });

  afterEach(async () => {
    for (const c of clients) await c.close();
    clients = [];
  });

  afterAll(async () => {
    await bouncer.stop();
  });

  it('fails a query waiting for a busy server connection with UNAVAILABLE at query_wait_timeout', async () => {
    const held = await hold(client(bouncer));
    const waiter = client(bouncer, { statementTimeoutMs: 10_000 });
    const { error, ms } = await failure(waiter.query('SELECT 1'));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/query_wait_timeout/);
    expect(ms).toBeGreaterThan(2500);
    expect(ms).toBeLessThan(5000);

    await held.release();
    // Once the server connection is free the next query goes through at once.
    const started = performance.now();
    const { rows } = await waiter.query<{ ok: number }>('SELECT 1 AS ok');
    expect(rows[0]?.ok).toBe(1);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('ends the wait at the client deadline with DEADLINE_EXCEEDED when that comes first', async () => {
    const held = await hold(client(bouncer));
    // Client-side limit: statementTimeoutMs + 1 s = 1.2 s, before PgBouncer's 3 s queue limit.
    const impatient = client(bouncer, { statementTimeoutMs: 200 });
    const { error, ms } = await failure(impatient.query('SELECT 1'));
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(ms).toBeGreaterThan(1000);
    expect(ms).toBeLessThan(2500);
    await held.release();
  });

  it('fails fast with UNAVAILABLE when the app-side pool is exhausted', async () => {
    const app = client(bouncer, { connectionTimeoutMs: 300 });
    const held = await hold(app);
    const { error, ms } = await failure(app.query('SELECT 1'));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/pool exhausted/);
    expect(ms).toBeLessThan(1000);
    await held.release();
  });

  it('refuses clients beyond max_client_conn with UNAVAILABLE instead of queueing them', async () => {
    const small = await startPgBouncer({
      ini: shipped(),
      databases: UPSTREAM,
      user: USER,
      password: PASSWORD,
      settings: { max_client_conn: '2' },
    });
    try {
      const [a, b, c] = [client(small), client(small), client(small, { connectionTimeoutMs: 2000 })];
      // PgBouncer counts the start-up probe's socket for a moment; retry until both are admitted.
      for (const admitted of [a, b]) {
        const until = Date.now() + 3000;
        for (;;) {
          try {
            await admitted.query('SELECT 1');
            break;
          } catch (err) {
            if (Date.now() > until) throw err;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
      const { error, ms } = await failure(c.query('SELECT 1'));
      expect(error.code).toBe('UNAVAILABLE');
      expect(error.message).toMatch(/max_client_conn/);
      expect(ms).toBeLessThan(1000);
    } finally {
      for (const c of clients) await c.close();
      clients = [];
      await small.stop();
    }
  });
});
