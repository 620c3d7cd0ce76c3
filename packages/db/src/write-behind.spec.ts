import { afterEach, describe, expect, it } from '@jest/globals';
import { eventually } from '@regatta/testing';
import { RegattaError } from '@regatta/contracts';
import { createLogger, getRegistry } from '@regatta/telemetry';
import { FakeSqlClient, pgError } from './testing/fake-sql-client.js';
import {
  backoffDelay,
  MAX_BIND_PARAMETERS,
  WriteBehindWriter,
  type WriteBehindOptions,
  type WriterDeps,
} from './write-behind.js';

interface Decision {
  id: string;
  seq: number;
  label: string | null;
}

const COLUMNS = ['id', 'seq', 'label'] as const;
const row = (seq: number, label: string | null = 'ok'): Decision => ({ id: `d-${seq}`, seq, label });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Backoff sleeps recorded and skipped (a macrotask each), so retry tests run instantly. */
function instantSleep(): WriterDeps & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: (ms) => {
      delays.push(ms);
      return new Promise((resolve) => setImmediate(resolve));
    },
    random: () => 0.5,
  };
}

/** The error `fn` throws. */
function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

// The writer logs every outage it sees; these tests cause outages on purpose.
const quiet = createLogger('write-behind-spec').child({}, { level: 'silent' });

let tableCounter = 0;
const writers: WriteBehindWriter<Decision>[] = [];

function makeWriter(
  db: FakeSqlClient,
  options: Partial<WriteBehindOptions<Decision>> = {},
  deps: Partial<WriterDeps> = instantSleep(),
): WriteBehindWriter<Decision> {
  tableCounter += 1;
  const writer = new WriteBehindWriter<Decision>(
    {
      client: db,
      table: `decisions_${tableCounter}`,
      columns: COLUMNS,
      conflictKey: ['id'],
      batchSize: 4,
      flushIntervalMs: 20,
      closeTimeoutMs: 1000,
      logger: quiet,
      ...options,
    },
    deps,
  );
  writers.push(writer);
  return writer;
}

afterEach(async () => {
  for (const writer of writers.splice(0)) await writer.close();
});

describe(WriteBehindWriter.name, () => {
  describe('add', () => {
    it('writes full batches at once as multi-row inserts and keeps the order of the rows', async () => {
      const db = new FakeSqlClient();
      const writer = makeWriter(db, { flushIntervalMs: 60_000 });
      for (let i = 0; i < 8; i++) writer.add(row(i));
      await eventually(() => db.rows.length === 8, 'db.rows.length === 8');
      expect(db.batchSizes(3)).toEqual([4, 4]);
      expect(db.statements[0]!.sql).toBe(
        `INSERT INTO "${'decisions_' + tableCounter}" ("id", "seq", "label") VALUES ($1, $2, $3), ($4, $5, $6), ($7, $8, $9), ($10, $11, $12) ON CONFLICT ("id") DO NOTHING`,
      );
      expect(db.rows.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it('holds a partial batch until the flush interval has passed', async () => {
      const db = new FakeSqlClient();
      const writer = makeWriter(db, { flushIntervalMs: 80 });
      writer.add(row(1));
      writer.add(row(2));
      await sleep(30);
      expect(db.statements).toHaveLength(0);
      await eventually(() => db.rows.length === 2, 'db.rows.length === 2');
      expect(db.batchSizes(3)).toEqual([2]);
    });

    it('writes the values the row had when it was added', async () => {
      const db = new FakeSqlClient();
      const writer = makeWriter(db);
      const r = row(1, 'before');
      writer.add(r);
      r.label = 'after';
      await writer.flush();
      expect(db.rows[0]).toMatchObject({ label: 'before' });
    });

    it('throws OVERLOADED once the buffer is full, and writes every accepted row when the database is back', async () => {
      const db = new FakeSqlClient();
      db.down = pgError('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED');
      const writer = makeWriter(db, { maxBuffer: 6 });
      for (let i = 0; i < 6; i++) writer.add(row(i));
      const refused = caught(() => writer.add(row(6)));
      expect(refused).toBeInstanceOf(RegattaError);
      expect(refused).toMatchObject({
        code: 'OVERLOADED',
        message: expect.stringMatching(/buffer .* is full \(6\/6 rows\)/),
      });
      expect(writer.stats()).toMatchObject({ buffered: 6, overloaded: 1 });

      db.down = undefined;
      await writer.flush();
      expect(db.rows.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    });

    it('rejects a row missing a column or with a null conflict key, naming the column', () => {
      const writer = makeWriter(new FakeSqlClient());
      expect(() => writer.add({ id: 'x', seq: 1 } as Decision)).toThrow(
        /no value for column "label" \(use null for SQL NULL\)/,
      );
      expect(() => writer.add({ id: null, seq: 1, label: null } as unknown as Decision)).toThrow(
        /null in conflict-key column "id"/,
      );
      expect(writer.stats().buffered).toBe(0);
    });

    it('refuses rows once closed', async () => {
      const writer = makeWriter(new FakeSqlClient());
      await writer.close();
      expect(caught(() => writer.add(row(1)))).toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/closed/),
      });
    });
  });

  describe('addMany', () => {
    it('accepts all rows or none', () => {
      const db = new FakeSqlClient();
      db.down = pgError('down', 'ECONNREFUSED');
      const writer = makeWriter(db, { maxBuffer: 5, closeTimeoutMs: 20 });
      writer.addMany([row(1), row(2), row(3)]);
      expect(caught(() => writer.addMany([row(4), row(5), row(6)]))).toMatchObject({ code: 'OVERLOADED' });
      expect(() => writer.addMany([row(7), { id: 'bad', seq: 8 } as Decision])).toThrow(
        /no value for column "label"/,
      );
      expect(writer.stats().buffered).toBe(3);
    });
  });

  describe('addAndWait', () => {
    it('resolves only once the row is committed', async () => {
      const db = new FakeSqlClient();
      db.down = pgError('Connection terminated unexpectedly');
      const writer = makeWriter(db);
      let done = false;
      const waiting = writer.addAndWait(row(1)).then(() => (done = true));
      await sleep(50);
      expect(done).toBe(false);
      db.down = undefined;
      await waiting;
      expect(db.rows).toHaveLength(1);
    });

    it('throws at once, like add, for a row it does not accept', async () => {
      const db = new FakeSqlClient();
      db.down = pgError('Connection terminated unexpectedly');
      const writer = makeWriter(db, { maxBuffer: 1 });
      const first = writer.addAndWait(row(1));
      expect(() => writer.addAndWait(row(2))).toThrow(expect.objectContaining({ code: 'OVERLOADED' }));
      db.down = undefined;
      await first;
      await writer.close();
      expect(() => writer.addAndWait(row(3))).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }));
      expect(db.rows).toHaveLength(1);
    });
  });

  describe('retries', () => {
    it('backs off exponentially while the database is down and keeps the rows', async () => {
      const db = new FakeSqlClient();
      const deps = instantSleep();
      const writer = makeWriter(db, { retry: { initialDelayMs: 100, maxDelayMs: 1000 } }, deps);
      db.down = pgError('connect ECONNREFUSED', 'ECONNREFUSED');
      writer.addMany([row(1), row(2), row(3), row(4)]);
      await eventually(() => deps.delays.length >= 6, 'deps.delays.length >= 6');
      // Equal jitter with random() = 0.5: 3/4 of min(cap, 100 * 2^(n-1)).
      expect(deps.delays.slice(0, 6)).toEqual([75, 150, 300, 600, 750, 750]);
      expect(writer.health()).toMatchObject({
        status: 'degraded',
        detail: expect.stringMatching(/database failing .* 4 rows buffered/),
      });

      db.down = undefined;
      await writer.flush();
      expect(db.rows.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
      expect(writer.health().status).toBe('ok');
      expect(writer.stats().retries).toBeGreaterThanOrEqual(6);
    });

    it('does not duplicate rows when a committed batch is retried because its reply was lost', async () => {
      const db = new FakeSqlClient();
      db.commitThenFail = 1;
      const writer = makeWriter(db);
      writer.addMany([row(1), row(2), row(3), row(4), row(5)]);
      await writer.flush();
      expect(db.rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
      // The lost commit is not counted as written; its rows come back as duplicates, once each.
      expect(writer.stats()).toMatchObject({ written: 1, duplicates: 4, retries: 1 });
    });

    it('keeps retrying on errors that are not about the rows, such as a missing table', async () => {
      const db = new FakeSqlClient();
      db.down = pgError('relation "decisions" does not exist', '42P01');
      const deps = instantSleep();
      const writer = makeWriter(db, {}, deps);
      writer.add(row(1));
      await eventually(() => deps.delays.length >= 3, 'deps.delays.length >= 3');
      expect(writer.stats()).toMatchObject({ buffered: 1, rejected: 0 });
      db.down = undefined;
      await writer.flush();
      expect(db.rows).toHaveLength(1);
    });
  });

  describe('invalid rows', () => {
    it('drops only the rows the database refuses, writes the rest in order, and fails their waiters', async () => {
      const db = new FakeSqlClient();
      db.invalid = (r) => r.label === 'poison';
      const writer = makeWriter(db, { batchSize: 8 });
      const poisoned = writer.addAndWait(row(3, 'poison'));
      for (const seq of [4, 5, 6, 7, 8, 9, 10]) writer.add(row(seq));
      await expect(poisoned).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        details: { sqlstate: '23502' },
      });
      await writer.flush();
      expect(db.rows.map((r) => r.seq)).toEqual([4, 5, 6, 7, 8, 9, 10]);
      expect(writer.stats()).toMatchObject({ written: 7, rejected: 1, buffered: 0 });
    });
  });

  describe('flush', () => {
    it('with a timeout rejects DEADLINE_EXCEEDED while the database is down, leaving the rows buffered', async () => {
      const db = new FakeSqlClient();
      db.down = pgError('down', 'ECONNREFUSED');
      const writer = makeWriter(db, { retry: { initialDelayMs: 5, maxDelayMs: 5 } }, {});
      writer.add(row(1));
      await expect(writer.flush(50)).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      expect(writer.stats().buffered).toBe(1);
      db.down = undefined;
      await writer.flush(1000);
      expect(db.rows).toHaveLength(1);
    });
  });

  describe('close', () => {
    it('writes everything buffered without waiting for the flush interval', async () => {
      const db = new FakeSqlClient();
      const writer = makeWriter(db, { flushIntervalMs: 60_000 });
      for (let i = 0; i < 10; i++) writer.add(row(i));
      const started = Date.now();
      const report = await writer.close();
      expect(Date.now() - started).toBeLessThan(1000);
      expect(report).toMatchObject({ written: 10, unwritten: 0, buffered: 0 });
      expect(db.batchSizes(3)).toEqual([4, 4, 2]);
    });

    it('retries through a short outage before giving up', async () => {
      const db = new FakeSqlClient();
      db.down = pgError('down', 'ECONNRESET');
      const writer = makeWriter(db, { retry: { initialDelayMs: 5, maxDelayMs: 20 } }, {});
      writer.addMany([row(1), row(2)]);
      setTimeout(() => (db.down = undefined), 100);
      expect(await writer.close()).toMatchObject({ written: 2, unwritten: 0 });
    });

    it('gives up after closeTimeoutMs, reports the unwritten rows and fails their waiters', async () => {
      const db = new FakeSqlClient();
      db.down = pgError('down', 'ECONNREFUSED');
      const writer = makeWriter(
        db,
        { closeTimeoutMs: 100, retry: { initialDelayMs: 5, maxDelayMs: 10 } },
        {},
      );
      const waiting = writer.addAndWait(row(1));
      writer.addMany([row(2), row(3)]);
      const started = Date.now();
      const report = await writer.close();
      expect(Date.now() - started).toBeLessThan(600);
      expect(report).toMatchObject({ unwritten: 3, written: 0 });
      await expect(waiting).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(await writer.close()).toBe(report);
    });

    it('returns at the timeout even when an insert never answers', async () => {
      const db = new FakeSqlClient();
      db.hang = true;
      const writer = makeWriter(db, { closeTimeoutMs: 100 });
      writer.add(row(1));
      const report = await writer.close();
      expect(report.unwritten).toBe(1);
    });
  });

  describe('constructor', () => {
    it('lowers the batch size so one INSERT stays within the bind parameter limit', async () => {
      type Wide = Record<string, number>;
      const columns = Array.from({ length: 200 }, (_, i) => `c${i}`);
      const db = new FakeSqlClient();
      const writer = new WriteBehindWriter<Wide>(
        {
          client: db,
          table: 'wide',
          columns,
          conflictKey: ['c0'],
          batchSize: 10_000,
          maxBuffer: 1000,
          flushIntervalMs: 10,
        },
        instantSleep(),
      );
      expect(writer.effectiveBatchSize).toBe(327);
      for (let r = 0; r < 700; r++) writer.add(Object.fromEntries(columns.map((c, i) => [c, r * 1000 + i])));
      await writer.close();
      expect(Math.max(...db.statements.map((s) => s.params.length))).toBeLessThanOrEqual(MAX_BIND_PARAMETERS);
      expect(db.rows).toHaveLength(700);
    });

    it('rejects unsafe identifiers and a conflict key outside the columns', () => {
      const client = new FakeSqlClient();
      const base = { client, columns: COLUMNS, conflictKey: ['id'] as const };
      expect(() => new WriteBehindWriter<Decision>({ ...base, table: 'x; drop table y' })).toThrow(
        /not a plain SQL identifier/,
      );
      expect(
        () =>
          new WriteBehindWriter<Decision>({
            ...base,
            table: 't',
            columns: ['id', 'seq'],
            conflictKey: ['label'],
          }),
      ).toThrow(/conflictKey column "label" is not among the columns/);
      expect(() => new WriteBehindWriter<Decision>({ ...base, table: 't', conflictKey: [] })).toThrow(
        /needs a conflictKey/,
      );
      expect(() => new WriteBehindWriter<Decision>({ ...base, table: 't', maxBuffer: 0 })).toThrow(
        /maxBuffer must be a positive integer/,
      );
    });
  });

  describe('metrics', () => {
    it('counts rows by outcome and tracks the buffered rows per table', async () => {
      const db = new FakeSqlClient();
      db.invalid = (r) => r.label === 'poison';
      const writer = makeWriter(db, { maxBuffer: 3 });
      const table = `decisions_${tableCounter}`;
      writer.addMany([row(1), row(2), row(3, 'poison')]);
      expect(() => writer.add(row(4))).toThrow();
      const buffered = await getRegistry().getSingleMetric('db_writer_buffered_rows')!.get();
      expect(buffered.values.find((v) => v.labels.table === table)?.value).toBe(3);
      await writer.flush();
      const rows = await getRegistry().getSingleMetric('db_writer_rows_total')!.get();
      const count = (outcome: string) =>
        rows.values.find((v) => v.labels.table === table && v.labels.outcome === outcome)?.value;
      expect([count('written'), count('rejected'), count('overloaded')]).toEqual([2, 1, 1]);
      const after = await getRegistry().getSingleMetric('db_writer_buffered_rows')!.get();
      expect(after.values.find((v) => v.labels.table === table)?.value).toBe(0);
    });
  });
});

describe('backoffDelay', () => {
  it('doubles from the initial delay, stops at the cap, and spreads each delay over its upper half', () => {
    const retry = { initialDelayMs: 100, maxDelayMs: 5000 };
    expect([1, 2, 3].map((n) => backoffDelay(n, retry, () => 0))).toEqual([50, 100, 200]);
    expect(backoffDelay(30, retry, () => 0.999999)).toBeLessThanOrEqual(5000);
    expect(backoffDelay(30, retry, () => 0)).toBe(2500);
  });
});
