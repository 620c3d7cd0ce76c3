import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { Materializer, readFeatureFile } from './materialize.js';
import { OnlineFeatureReader } from './reader.js';
import { MemoryOnlineStore } from './stores/memory-store.js';
import { fixedRegistry, fraudRegistry } from './testing/fixtures.js';
import { OnlineFeatureWriter } from './writer.js';

const NOW = Date.parse('2022-01-01T00:00:00Z');
let dir: string;
let store: MemoryOnlineStore;
let materializer: Materializer;
let reader: OnlineFeatureReader;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'regatta-materialize-'));
  await writeFile(
    path.join(dir, 'customer_stats.csv'),
    [
      'customer_id,txn_count_1h,avg_amount_30d,tags,event_timestamp,created',
      'c1,3,12.5,"[""a""]",2021-12-31T23:00:00Z,2021-12-31T23:05:00Z',
      'c2,4,,[],2021-12-31 22:00:00,',
      'c1,1,1.0,[],2021-12-30T23:00:00Z,',
    ].join('\n'),
  );
  parquetWriteFile({
    filename: path.join(dir, 'customer_stats.parquet'),
    columnData: [
      { name: 'customer_id', data: ['c1', 'c2'], type: 'STRING' },
      { name: 'txn_count_1h', data: [7n, 8n], type: 'INT64' },
      { name: 'avg_amount_30d', data: [1.5, 2.5], type: 'DOUBLE' },
      { name: 'tags', data: ['[]', '["x"]'], type: 'STRING' },
      {
        name: 'event_timestamp',
        data: [new Date('2021-12-31T23:30:00Z'), new Date('2021-12-31T23:40:00Z')],
        type: 'TIMESTAMP',
      },
    ],
  });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  store = new MemoryOnlineStore();
  const registry = fixedRegistry(fraudRegistry());
  const writer = new OnlineFeatureWriter(registry, store, { now: () => NOW });
  materializer = new Materializer(registry, writer, dir);
  reader = new OnlineFeatureReader(registry, store, { now: () => NOW });
});

const read = () =>
  reader.getOnlineFeatures({
    features: ['customer_stats:txn_count_1h', 'customer_stats:avg_amount_30d', 'customer_stats:tags'],
    entities: { customer_id: ['c1', 'c2'] },
  });

describe(readFeatureFile.name, () => {
  it('reads CSV in chunks of columns', async () => {
    const chunks = [];
    for await (const chunk of readFeatureFile(path.join(dir, 'customer_stats.csv'), { chunkRows: 2 }))
      chunks.push(chunk);
    expect(chunks.map((c) => c.customer_id)).toEqual([['c1', 'c2'], ['c1']]);
  });

  it('names files it cannot read', async () => {
    const gen = readFeatureFile(path.join(dir, 'missing.csv'));
    await expect(gen.next()).rejects.toThrow(/missing.csv cannot be read/);
  });
});

describe(Materializer.name, () => {
  describe('materializeFile', () => {
    it('loads a CSV file, the latest row per entity winning', async () => {
      const summary = await materializer.materializeFile('customer_stats.csv', 'customer_stats');
      expect(summary).toEqual({ feature_view: 'customer_stats', rows: 3, written: 2, skipped: 1 });
      const response = await read();
      expect(response.results.slice(1).map((r) => r.values)).toEqual([
        [3, 4],
        [12.5, null],
        [['a'], []],
      ]);
      expect(response.results[1]!.event_timestamps).toEqual(['2021-12-31T23:00:00Z', '2021-12-31T22:00:00Z']);
    });

    it('loads a Parquet file with INT64 and TIMESTAMP columns', async () => {
      const summary = await materializer.materializeFile('customer_stats.parquet', 'customer_stats');
      expect(summary.written).toBe(2);
      const response = await read();
      expect(response.results[1]!.values).toEqual([7, 8]);
      expect(response.results[1]!.event_timestamps).toEqual(['2021-12-31T23:30:00Z', '2021-12-31T23:40:00Z']);
      expect(response.results[3]!.values).toEqual([[], ['x']]);
    });

    it('selects rows of a time window', async () => {
      const summary = await materializer.materializeFile('customer_stats.csv', 'customer_stats', {
        startMs: Date.parse('2021-12-31T00:00:00Z'),
        endMs: Date.parse('2021-12-31T22:30:00Z'),
      });
      expect(summary.rows).toBe(1);
      expect((await read()).results[1]!.values).toEqual([null, 4]);
    });
  });

  describe('materialize', () => {
    it('loads every view that has a file batch source', async () => {
      await mkdir(path.join(dir, 'data'), { recursive: true });
      await copyFile(path.join(dir, 'customer_stats.csv'), path.join(dir, 'data', 'customer_stats.csv'));
      const summaries = await materializer.materialize(undefined, { stampNow: true });
      expect(summaries.map((s) => [s.feature_view, s.written])).toEqual([['customer_stats', 2]]);
      expect((await read()).results[1]!.event_timestamps).toEqual([
        '2022-01-01T00:00:00Z',
        '2022-01-01T00:00:00Z',
      ]);
    });

    it('refuses views without a file source', async () => {
      await expect(materializer.materialize(['merchant_risk'])).rejects.toThrow(/has no file batch source/);
    });
  });
});
