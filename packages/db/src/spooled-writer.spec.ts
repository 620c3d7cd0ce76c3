import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { eventually } from '@regatta/testing';
import { createLogger } from '@regatta/telemetry';
import { SpooledWriter, type SpooledWriterOptions } from './spooled-writer.js';
import { FakeSqlClient, pgError } from './testing/fake-sql-client.js';
import { WriteBehindWriter } from './write-behind.js';

interface Usage {
  id: string;
  cost: number;
}

const quiet = createLogger('spooled-writer-spec').child({}, { level: 'silent' });

const dirs: string[] = [];
const open: SpooledWriter<Usage>[] = [];

function setup(
  db: FakeSqlClient,
  options: Partial<SpooledWriterOptions<Usage>> & { maxBuffer?: number } = {},
): { spooled: SpooledWriter<Usage>; dir: string } {
  const dir = options.spoolDir ?? mkdtempSync(path.join(tmpdir(), 'spool-spec-'));
  dirs.push(dir);
  const writer = new WriteBehindWriter<Usage>({
    client: db,
    table: 'usage',
    columns: ['id', 'cost'],
    conflictKey: ['id'],
    flushIntervalMs: 5,
    closeTimeoutMs: 200,
    maxBuffer: options.maxBuffer ?? 100,
    logger: quiet,
  });
  const spooled = new SpooledWriter<Usage>({
    writer,
    spoolDir: dir,
    prefix: 'usage',
    keyOf: (row) => row.id,
    whenFull: 'spool',
    recoverEveryMs: 0,
    settleMs: 0,
    logger: quiet,
    ...options,
  });
  open.push(spooled);
  return { spooled, dir };
}

const usage = (n: number): Usage => ({ id: `u-${n}`, cost: n });
const ids = (db: FakeSqlClient) => db.rows.map((r) => r['id']).sort();
const spoolLines = (dir: string) =>
  readdirSync(dir).flatMap((n) => readFileSync(path.join(dir, n), 'utf8').trim().split('\n').filter(Boolean));

afterEach(async () => {
  await Promise.all(open.splice(0).map((w) => w.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe(SpooledWriter.name, () => {
  it('writes rows a full buffer spooled once the database is back, while running, and deletes the file', async () => {
    const db = new FakeSqlClient();
    const { spooled, dir } = setup(db, { maxBuffer: 2 });
    db.down = pgError('connection refused');
    for (let i = 0; i < 5; i++) spooled.record(usage(i));
    // Two rows wait in the buffer; three were turned away and spooled.
    await eventually(() => spoolLines(dir).length === 3, 'spoolLines(dir).length === 3');
    await spooled.recover();
    // While the database is down the writer is degraded: no file is claimed.
    expect(readdirSync(dir).every((name) => name.endsWith('.jsonl'))).toBe(true);
    expect(spoolLines(dir)).toHaveLength(3);

    db.down = undefined;
    await spooled.flush(2000);
    await spooled.recover();
    expect(ids(db)).toEqual(['u-0', 'u-1', 'u-2', 'u-3', 'u-4']);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('leaves a spool file alone until it has settled', async () => {
    const db = new FakeSqlClient();
    const { spooled, dir } = setup(db, { settleMs: 60_000 });
    writeFileSync(path.join(dir, 'usage-1-1.jsonl'), `${JSON.stringify(usage(7))}\n`);
    await spooled.recover();
    expect(ids(db)).toEqual([]);
    const old = new Date(Date.now() - 120_000);
    utimesSync(path.join(dir, 'usage-1-1.jsonl'), old, old);
    await spooled.recover();
    await eventually(() => ids(db).length === 1, 'ids(db).length === 1');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('replays a file last appended to in the current millisecond when nothing has to settle', async () => {
    const db = new FakeSqlClient();
    const { spooled, dir } = setup(db);
    const file = path.join(dir, 'usage-1-1.jsonl');
    writeFileSync(file, `${JSON.stringify(usage(4))}\n`);
    // File times keep fractions of a millisecond; Date.now() is whole milliseconds of the same clock.
    const now = Date.now();
    const within = (now + 0.5) / 1000;
    utimesSync(file, within, within);
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now);
    try {
      await spooled.recover();
    } finally {
      clock.mockRestore();
    }
    expect(ids(db)).toEqual(['u-4']);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('writes a file larger than the buffer in chunks that leave half the free room to new rows', async () => {
    const db = new FakeSqlClient();
    const { spooled, dir } = setup(db, { maxBuffer: 4 });
    const lines = Array.from({ length: 9 }, (_, n) => JSON.stringify(usage(n))).join('\n');
    writeFileSync(path.join(dir, 'usage-1-1.jsonl'), `${lines}\n`);
    await spooled.recover();
    expect(ids(db)).toHaveLength(9);
    expect(Math.max(...db.batchSizes(2))).toBeLessThanOrEqual(2);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("takes over a claim whose process is gone, but not a live process's claim", async () => {
    const db = new FakeSqlClient();
    const { spooled, dir } = setup(db);
    // No process has pid 2^22 + 1 (above Linux's pid_max); process 1 is alive.
    writeFileSync(
      path.join(dir, `usage-1-1.jsonl.replaying-${2 ** 22 + 1}`),
      `${JSON.stringify(usage(1))}\n`,
    );
    writeFileSync(path.join(dir, 'usage-1-2.jsonl.replaying-1'), `${JSON.stringify(usage(2))}\n`);
    await spooled.recover();
    await eventually(() => ids(db).length === 1, 'ids(db).length === 1');
    expect(ids(db)).toEqual(['u-1']);
    expect(readdirSync(dir)).toEqual(['usage-1-2.jsonl.replaying-1']);
  });

  it('replays every spool file at start, claimed ones included, and stores a row spooled twice once', async () => {
    const db = new FakeSqlClient();
    const dir = mkdtempSync(path.join(tmpdir(), 'spool-spec-'));
    writeFileSync(
      path.join(dir, 'usage-9-1.jsonl'),
      `${JSON.stringify(usage(1))}\n${JSON.stringify(usage(2))}\n`,
    );
    writeFileSync(path.join(dir, 'usage-9-2.jsonl.replaying-1'), `${JSON.stringify(usage(2))}\n`);
    writeFileSync(path.join(dir, 'other-9-3.jsonl'), `${JSON.stringify(usage(3))}\n`);
    const { spooled } = setup(db, { spoolDir: dir });
    await spooled.replay();
    await spooled.flush(2000);
    await spooled.close();
    expect(ids(db)).toEqual(['u-1', 'u-2']);
    expect(readdirSync(dir)).toEqual(['other-9-3.jsonl']);
  });

  it('gives a claimed file back when the writer closes before its rows are written', async () => {
    const db = new FakeSqlClient();
    const { spooled, dir } = setup(db);
    writeFileSync(path.join(dir, 'usage-1-1.jsonl'), `${JSON.stringify(usage(1))}\n`);
    db.hang = true;
    const round = spooled.recover();
    await eventually(
      () => readdirSync(dir)[0]!.includes('.replaying-'),
      "readdirSync(dir)[0]!.includes('.replaying-')",
    );
    await spooled.close();
    await round;
    expect(readdirSync(dir)).toEqual(['usage-1-1.jsonl']);
    expect(spoolLines(dir)).toEqual([JSON.stringify(usage(1))]);
  });

  it('runs recovery rounds on its own timer', async () => {
    const db = new FakeSqlClient();
    const { dir } = setup(db, { recoverEveryMs: 20 });
    writeFileSync(path.join(dir, 'usage-1-1.jsonl'), `${JSON.stringify(usage(5))}\n`);
    await eventually(() => ids(db).length === 1, 'ids(db).length === 1');
    await eventually(() => readdirSync(dir).length === 0, 'readdirSync(dir).length === 0');
  });
});
