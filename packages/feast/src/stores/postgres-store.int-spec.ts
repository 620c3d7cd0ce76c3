import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { RegattaError } from '@regatta/contracts';
import { TcpFaultProxy } from '@regatta/testing';
import pg from 'pg';
import { OnlineFeatureReader } from '../reader.js';
import { entityKeyV3, feastValue } from '../testing/feast-layout.js';
import { customerStatsRead, fixedRegistry, fraudRegistry } from '../testing/fixtures.js';
import { OnlineFeatureWriter } from '../writer.js';
import { PostgresOnlineStore } from './postgres-store.js';

const ID = randomBytes(4).toString('hex');
const PROJECT = `it_${ID}`;
const SCHEMA = `feast_it_${ID}`;
const CONNECTION = { host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres', schema: SCHEMA };
const NOW = Date.now();
const HOUR = 3600_000;

let raw: pg.Pool;
let store: PostgresOnlineStore;
let reader: OnlineFeatureReader;
let writer: OnlineFeatureWriter;

const table = (view: string) => `"${SCHEMA}"."${PROJECT}_${view}"`;

beforeAll(async () => {
  raw = new pg.Pool({ host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres', max: 2 });
  // Tables as newer Feast creates them (with the nullable value_text / vector_value columns), filled by hand.
  await raw.query(`CREATE SCHEMA "${SCHEMA}"`);
  for (const view of ['customer_stats', 'merchant_risk']) {
    await raw.query(
      `CREATE TABLE ${table(view)} (entity_key BYTEA, feature_name TEXT, value BYTEA, value_text TEXT, vector_value BYTEA,
       event_ts TIMESTAMPTZ, created_ts TIMESTAMPTZ, PRIMARY KEY(entity_key, feature_name))`,
    );
  }
  const insert = (view: string, key: Buffer, feature: string, value: Buffer, eventMs: number) =>
    raw.query(
      `INSERT INTO ${table(view)} (entity_key, feature_name, value, event_ts, created_ts) VALUES ($1, $2, $3, $4, now())`,
      [key, feature, value, new Date(eventMs)],
    );
  const c1 = entityKeyV3({ customer_id: 'c1' });
  const c2 = entityKeyV3({ customer_id: 'c2' });
  await insert('customer_stats', c1, 'txn_count_1h', feastValue.int64(3), NOW - HOUR);
  await insert('customer_stats', c1, 'avg_amount_30d', feastValue.double(42.5), NOW - HOUR);
  await insert('customer_stats', c1, 'tags', feastValue.stringList(['vip']), NOW - HOUR);
  await insert('customer_stats', c2, 'txn_count_1h', feastValue.int64(9), NOW - 50 * HOUR);
  await insert('customer_stats', c2, 'avg_amount_30d', feastValue.null(), NOW - 50 * HOUR);
  await insert(
    'merchant_risk',
    entityKeyV3({ merchant_id: 'm1' }),
    'merchant_fraud_rate_90d',
    feastValue.double(0.015),
    NOW - 2 * HOUR,
  );

  store = new PostgresOnlineStore({ project: PROJECT, connection: CONNECTION });
  const registry = fixedRegistry(fraudRegistry());
  reader = new OnlineFeatureReader(registry, store, { now: () => NOW });
  writer = new OnlineFeatureWriter(registry, store);
});

afterAll(async () => {
  await store.close();
  await raw.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  await raw.end();
});

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

describe(PostgresOnlineStore.name, () => {
  describe('read', () => {
    it('reads rows Feast wrote, with statuses, timestamps and TTL', async () => {
      const response = await reader.getOnlineFeatures({
        features: ['customer_stats:txn_count_1h', 'customer_stats:avg_amount_30d', 'customer_stats:tags'],
        entities: { customer_id: ['c1', 'c2', 'c3'] },
      });
      expect(response.results.slice(1)).toEqual([
        {
          values: [3, 9, null],
          statuses: ['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND'],
          event_timestamps: [iso(NOW - HOUR), iso(NOW - 50 * HOUR), '1970-01-01T00:00:00Z'],
        },
        {
          values: [42.5, null, null],
          statuses: ['PRESENT', 'NULL_VALUE', 'NOT_FOUND'],
          event_timestamps: [iso(NOW - HOUR), iso(NOW - 50 * HOUR), '1970-01-01T00:00:00Z'],
        },
        {
          values: [['vip'], null, null],
          statuses: ['PRESENT', 'NOT_FOUND', 'NOT_FOUND'],
          event_timestamps: [iso(NOW - HOUR), '1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'],
        },
      ]);
    });

    it('reads all views of all entities in one statement', async () => {
      const request = {
        feature_service: 'fraud_features',
        entities: { customer_id: ['c1', 'c2'], merchant_id: ['m1', 'm2'] },
        full_feature_names: true,
      };
      await reader.getOnlineFeatures(request); // learns which tables exist
      const queries = jest.spyOn(store['pool'], 'query');
      const response = await reader.getOnlineFeatures(request);
      expect(queries).toHaveBeenCalledTimes(1);
      queries.mockRestore();
      expect(response.results[5]).toEqual({
        values: [0.015, null],
        statuses: ['PRESENT', 'NOT_FOUND'],
        event_timestamps: [iso(NOW - 2 * HOUR), '1970-01-01T00:00:00Z'],
      });
    });

    it('reports NOT_FOUND for views whose table does not exist yet', async () => {
      const response = await reader.getOnlineFeatures({
        features: ['driver_stats:trips'],
        entities: { driver_id: [1] },
      });
      expect(response.results[1]!.statuses).toEqual(['NOT_FOUND']);
    });
  });

  describe('write', () => {
    it('creates the table in db_schema and writes Feast rows byte for byte', async () => {
      const summary = await writer.writeToOnlineStore('driver_stats', {
        driver_id: [1001],
        trips: [308],
        event_timestamp: ['2022-01-01T00:00:00.250Z'],
      });
      expect(summary.written).toBe(1);
      const { rows } = await raw.query<{
        entity_key: Buffer;
        feature_name: string;
        value: Buffer;
        event_ts: Date;
        created_ts: Date | null;
      }>(`SELECT entity_key, feature_name, value, event_ts, created_ts FROM ${table('driver_stats')}`);
      expect(rows).toEqual([
        {
          entity_key: Buffer.from(
            '0100000002000000090000006472697665725f69640400000008000000e903000000000000',
            'hex',
          ),
          feature_name: 'trips',
          value: Buffer.from('20b402', 'hex'),
          event_ts: new Date('2022-01-01T00:00:00.250Z'),
          created_ts: null,
        },
      ]);
      const read = await reader.getOnlineFeatures({
        features: ['driver_stats:trips'],
        entities: { driver_id: ['1001'] },
      });
      expect(read.results[1]!.values).toEqual([308]);
    });

    it('never replaces newer values with older ones, and takes newer ones', async () => {
      const row = (count: number, at: string) => ({ driver_id: [7], trips: [count], event_timestamp: [at] });
      await writer.writeToOnlineStore('driver_stats', row(5, '2022-01-01T12:00:00Z'));
      const older = await writer.writeToOnlineStore('driver_stats', row(4, '2022-01-01T11:00:00Z'));
      const same = await writer.writeToOnlineStore('driver_stats', row(6, '2022-01-01T12:00:00Z'));
      expect([older.skipped, same.skipped]).toEqual([1, 1]);
      const value = async () =>
        (
          await raw.query<{ value: Buffer }>(
            `SELECT value FROM ${table('driver_stats')} WHERE entity_key = $1`,
            [Buffer.from(entityKeyV3({ driver_id: 7n }))],
          )
        ).rows[0]!.value;
      expect(await value()).toEqual(feastValue.int64(5));
      expect((await writer.writeToOnlineStore('driver_stats', row(8, '2022-01-01T13:00:00Z'))).written).toBe(
        1,
      );
      expect(await value()).toEqual(feastValue.int64(8));
    });

    it('updates rows Feast wrote when the new event is newer', async () => {
      await writer.writeToOnlineStore('customer_stats', {
        customer_id: ['c2'],
        txn_count_1h: [10],
        avg_amount_30d: [5],
        tags: [['new']],
        event_timestamp: [new Date(NOW - 40 * HOUR).toISOString()],
      });
      const { rows } = await raw.query<{ feature_name: string; value: Buffer }>(
        `SELECT feature_name, value FROM ${table('customer_stats')} WHERE entity_key = $1 ORDER BY feature_name`,
        [entityKeyV3({ customer_id: 'c2' })],
      );
      expect(rows).toEqual([
        { feature_name: 'avg_amount_30d', value: feastValue.double(5) },
        { feature_name: 'tags', value: feastValue.stringList(['new']) },
        { feature_name: 'txn_count_1h', value: feastValue.int64(10) },
      ]);
    });
  });

  describe('when Postgres stops answering (a partition: the link stays up, nothing comes back)', () => {
    it('ends each read at the query timeout with UNAVAILABLE, and reads again once Postgres answers', async () => {
      const proxy = await TcpFaultProxy.forUrl('postgres://127.0.0.1:5432').start();
      const { port } = new URL(proxy.urlFor('postgres://127.0.0.1:5432'));
      const partitioned = new PostgresOnlineStore({
        project: PROJECT,
        connection: { ...CONNECTION, port: Number(port) },
        maxConnections: 2,
        queryTimeoutMs: 300,
      });
      const read = () => partitioned.read(customerStatsRead());
      try {
        await read();
        proxy.blackhole();
        // More reads than the pool has connections: none may keep its connection past the timeout.
        const started = performance.now();
        for (let i = 0; i < 4; i++) {
          const err = await read().then(
            () => undefined,
            (e: unknown) => e as RegattaError,
          );
          expect(err).toMatchObject({ code: 'UNAVAILABLE' });
        }
        expect(performance.now() - started).toBeLessThan(4 * 2_500);
        proxy.restore();
        await expect(read()).resolves.toHaveLength(1);
      } finally {
        await partitioned.close();
        await proxy.stop();
      }
    });
  });

  describe('when Postgres is unreachable', () => {
    it('answers UNAVAILABLE and reports down', async () => {
      const port = await new Promise<number>((resolve) => {
        const server = createServer();
        server.listen(0, '127.0.0.1', () => {
          const { port: p } = server.address() as { port: number };
          server.close(() => resolve(p));
        });
      });
      const dead = new PostgresOnlineStore({ project: PROJECT, connection: { ...CONNECTION, port } });
      try {
        const err = await dead.read(customerStatsRead()).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(RegattaError);
        expect((err as RegattaError).code).toBe('UNAVAILABLE');
        expect((await dead.health()).status).toBe('down');
      } finally {
        await dead.close();
      }
    });
  });
});
