import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { OnlineFeatureReader } from '../reader.js';
import { entityKeyV3, feastValue } from '../testing/feast-layout.js';
import { fixedRegistry, fraudRegistry } from '../testing/fixtures.js';
import { OnlineFeatureWriter } from '../writer.js';
import { SqliteDatabase } from './sqlite-driver.js';
import { SqliteOnlineStore } from './sqlite-store.js';

const PROJECT = 'it_sqlite';
const NOW_S = Math.floor(Date.now() / 1000);
const HOUR = 3600;

let dir: string;
let dbPath: string;
let raw: Database.Database;
let store: SqliteOnlineStore;
let reader: OnlineFeatureReader;
let writer: OnlineFeatureWriter;

const table = (view: string) => `"${PROJECT}_${view}"`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'regatta-sqlite-'));
  dbPath = path.join(dir, 'data', 'online_store.db');
  store = new SqliteOnlineStore({ project: PROJECT, path: dbPath });
  raw = new SqliteDatabase(dbPath);
  // Tables as Feast creates them, rows inserted by hand: epoch-second event times (Feast >= 0.42) and an
  // older row with ISO text.
  for (const view of ['customer_stats', 'merchant_risk']) {
    raw.exec(
      `CREATE TABLE ${table(view)} (entity_key BLOB, feature_name TEXT, value BLOB, vector_value BLOB, event_ts timestamp, created_ts timestamp, PRIMARY KEY(entity_key, feature_name))`,
    );
  }
  const insert = raw.prepare<[Buffer, string, Buffer, number | string]>(
    `INSERT INTO ${table('customer_stats')} (entity_key, feature_name, value, event_ts) VALUES (?, ?, ?, ?)`,
  );
  const c1 = entityKeyV3({ customer_id: 'c1' });
  const c2 = entityKeyV3({ customer_id: 'c2' });
  const old = entityKeyV3({ customer_id: 'old' });
  insert.run(c1, 'txn_count_1h', feastValue.int64(3), NOW_S - HOUR);
  insert.run(c1, 'avg_amount_30d', feastValue.double(42.5), NOW_S - HOUR);
  insert.run(c1, 'tags', feastValue.stringList(['vip']), NOW_S - HOUR);
  insert.run(c2, 'txn_count_1h', feastValue.int64(9), NOW_S - 50 * HOUR);
  insert.run(c2, 'avg_amount_30d', feastValue.null(), NOW_S - 50 * HOUR);
  insert.run(old, 'txn_count_1h', feastValue.int64(1), '2021-12-31 23:00:00');
  const registry = fixedRegistry(fraudRegistry());
  reader = new OnlineFeatureReader(registry, store);
  writer = new OnlineFeatureWriter(registry, store);
});

afterAll(async () => {
  raw.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

describe(SqliteOnlineStore.name, () => {
  describe('read', () => {
    it('reads rows Feast wrote, with statuses, timestamps and TTL', async () => {
      const response = await reader.getOnlineFeatures({
        features: ['customer_stats:txn_count_1h', 'customer_stats:avg_amount_30d', 'customer_stats:tags'],
        entities: { customer_id: ['c1', 'c2', 'c3', 'old'] },
      });
      expect(response.results.slice(1)).toEqual([
        {
          values: [3, 9, null, 1],
          statuses: ['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND', 'OUTSIDE_MAX_AGE'],
          event_timestamps: [
            iso(NOW_S - HOUR),
            iso(NOW_S - 50 * HOUR),
            '1970-01-01T00:00:00Z',
            '2021-12-31T23:00:00Z',
          ],
        },
        {
          values: [42.5, null, null, null],
          statuses: ['PRESENT', 'NULL_VALUE', 'NOT_FOUND', 'NOT_FOUND'],
          event_timestamps: [
            iso(NOW_S - HOUR),
            iso(NOW_S - 50 * HOUR),
            '1970-01-01T00:00:00Z',
            '1970-01-01T00:00:00Z',
          ],
        },
        {
          values: [['vip'], null, null, null],
          statuses: ['PRESENT', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND'],
          event_timestamps: [
            iso(NOW_S - HOUR),
            '1970-01-01T00:00:00Z',
            '1970-01-01T00:00:00Z',
            '1970-01-01T00:00:00Z',
          ],
        },
      ]);
    });

    it('reports NOT_FOUND for views whose table does not exist', async () => {
      const response = await reader.getOnlineFeatures({
        features: ['driver_stats:trips'],
        entities: { driver_id: [1] },
      });
      expect(response.results[1]!.statuses).toEqual(['NOT_FOUND']);
    });
  });

  describe('write', () => {
    it('creates the table and writes Feast rows byte for byte, event time as epoch seconds', async () => {
      await writer.writeToOnlineStore('driver_stats', {
        driver_id: [1001],
        trips: [308],
        event_timestamp: ['2022-01-01T00:00:00.900Z'],
        created: ['2022-01-01T00:05:00Z'],
      });
      const rows = raw
        .prepare(`SELECT entity_key, feature_name, value, event_ts, created_ts FROM ${table('driver_stats')}`)
        .all();
      expect(rows).toEqual([
        {
          entity_key: Buffer.from(
            '0100000002000000090000006472697665725f69640400000008000000e903000000000000',
            'hex',
          ),
          feature_name: 'trips',
          value: Buffer.from('20b402', 'hex'),
          event_ts: 1640995200,
          created_ts: 1640995500,
        },
      ]);
    });

    it('never replaces newer values with older (or equally old) ones, and takes newer ones', async () => {
      const row = (count: number, at: string) => ({ driver_id: [7], trips: [count], event_timestamp: [at] });
      await writer.writeToOnlineStore('driver_stats', row(5, '2022-01-01T12:00:00Z'));
      const older = await writer.writeToOnlineStore('driver_stats', row(4, '2022-01-01T11:00:00Z'));
      const same = await writer.writeToOnlineStore('driver_stats', row(6, '2022-01-01T12:00:00Z'));
      expect([older.skipped, same.skipped]).toEqual([1, 1]);
      const value = () =>
        (
          raw
            .prepare(`SELECT value FROM ${table('driver_stats')} WHERE entity_key = ?`)
            .get(entityKeyV3({ driver_id: 7n })) as {
            value: Buffer;
          }
        ).value;
      expect(value()).toEqual(feastValue.int64(5));
      expect((await writer.writeToOnlineStore('driver_stats', row(8, '2022-01-01T13:00:00Z'))).written).toBe(
        1,
      );
      expect(value()).toEqual(feastValue.int64(8));
    });

    it('compares against ISO-text event times of older Feast rows', async () => {
      const row = (count: number, at: string) => ({
        customer_id: ['old'],
        txn_count_1h: [count],
        avg_amount_30d: [1],
        tags: [[]],
        event_timestamp: [at],
      });
      const stored = () =>
        raw
          .prepare(
            `SELECT value, event_ts FROM ${table('customer_stats')} WHERE entity_key = ? AND feature_name = 'txn_count_1h'`,
          )
          .get(entityKeyV3({ customer_id: 'old' }));
      // Older than the stored '2021-12-31 23:00:00': the stored feature stays (features never written are added).
      await writer.writeToOnlineStore('customer_stats', row(2, '2021-12-31T22:00:00Z'));
      expect(stored()).toEqual({ value: feastValue.int64(1), event_ts: '2021-12-31 23:00:00' });
      await writer.writeToOnlineStore('customer_stats', row(3, '2022-01-01T00:00:00Z'));
      expect(stored()).toEqual({ value: feastValue.int64(3), event_ts: 1640995200 });
    });
  });

  describe('when the database cannot be opened', () => {
    it('throws UNAVAILABLE', async () => {
      const blocker = path.join(dir, 'not-a-dir');
      await writeFile(blocker, 'x');
      expect(
        () => new SqliteOnlineStore({ project: PROJECT, path: path.join(blocker, 'online.db') }),
      ).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }));
    });
  });
});
