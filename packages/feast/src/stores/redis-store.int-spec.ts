import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { RegattaError } from '@regatta/contracts';
import { TcpFaultProxy, eventually } from '@regatta/testing';
import { Redis } from 'ioredis';
import { OnlineFeatureReader } from '../reader.js';
import {
  entityKeyV3,
  feastValue,
  redisField,
  redisKey,
  redisTsField,
  timestampBytes,
} from '../testing/feast-layout.js';
import { customerStatsRead, fixedRegistry, fraudRegistry } from '../testing/fixtures.js';
import { OnlineFeatureWriter } from '../writer.js';
import { RedisOnlineStore } from './redis-store.js';

// The fixture registry's project is fraud_test; stores here use a unique project so parallel runs and other
// suites never share keys. Registry objects are looked up by view name, which is the same in both.
const PROJECT = `it_${randomBytes(4).toString('hex')}`;
const NOW_S = Math.floor(Date.now() / 1000);
const HOUR = 3600;

let raw: Redis;
let store: RedisOnlineStore;
let reader: OnlineFeatureReader;
let writer: OnlineFeatureWriter;

const customerKey = (id: string) => redisKey(entityKeyV3({ customer_id: id }), PROJECT);
const merchantKey = (id: string) => redisKey(entityKeyV3({ merchant_id: id }), PROJECT);

async function commandCalls(command: string): Promise<number> {
  const info = await raw.info('commandstats');
  const m = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
  return m ? Number(m[1]) : 0;
}

beforeAll(async () => {
  raw = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await raw.connect();
  store = new RedisOnlineStore({
    project: PROJECT,
    connection: { host: '127.0.0.1', port: 6379, ssl: false, db: 0 },
  });
  const registry = fixedRegistry(fraudRegistry());
  reader = new OnlineFeatureReader(registry, store);
  writer = new OnlineFeatureWriter(registry, store);

  // Feast's layout written by hand: one hash per entity, shared by the views on that entity.
  await raw.hset(
    customerKey('c1'),
    new Map<Buffer, Buffer>([
      [redisField('customer_stats', 'txn_count_1h'), feastValue.int64(3)],
      [redisField('customer_stats', 'avg_amount_30d'), feastValue.double(42.5)],
      [redisField('customer_stats', 'tags'), feastValue.stringList(['vip', 'ü'])],
      [redisTsField('customer_stats'), timestampBytes(NOW_S - HOUR)],
    ]),
  );
  // c2: too old for the 2-day TTL; avg_amount_30d stored as null; tags never written.
  await raw.hset(
    customerKey('c2'),
    new Map<Buffer, Buffer>([
      [redisField('customer_stats', 'txn_count_1h'), feastValue.int64(9)],
      [redisField('customer_stats', 'avg_amount_30d'), feastValue.null()],
      [redisTsField('customer_stats'), timestampBytes(NOW_S - 50 * HOUR)],
    ]),
  );
  await raw.hset(
    merchantKey('m1'),
    new Map<Buffer, Buffer>([
      [redisField('merchant_risk', 'merchant_fraud_rate_90d'), feastValue.double(0.015)],
      [redisField('merchant_risk', 'avg_amount_30d'), feastValue.double(80)],
      [redisTsField('merchant_risk'), timestampBytes(NOW_S - 2 * HOUR)],
    ]),
  );
});

afterAll(async () => {
  const keys: Buffer[] = [];
  let cursor = '0';
  do {
    const [next, found] = await raw.scanBuffer(cursor, 'MATCH', `*${PROJECT}`, 'COUNT', 1000);
    cursor = next.toString();
    keys.push(...found);
  } while (cursor !== '0');
  if (keys.length > 0) await raw.del(...keys);
  await store.close();
  await raw.quit();
});

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

describe(RedisOnlineStore.name, () => {
  describe('read', () => {
    it('reads values Feast wrote, with statuses, timestamps and TTL', async () => {
      const response = await reader.getOnlineFeatures({
        features: ['customer_stats:txn_count_1h', 'customer_stats:avg_amount_30d', 'customer_stats:tags'],
        entities: { customer_id: ['c1', 'c2', 'c3'] },
      });
      expect(response.results.slice(1)).toEqual([
        {
          values: [3, 9, null],
          statuses: ['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND'],
          event_timestamps: [iso(NOW_S - HOUR), iso(NOW_S - 50 * HOUR), '1970-01-01T00:00:00Z'],
        },
        {
          values: [42.5, null, null],
          statuses: ['PRESENT', 'NULL_VALUE', 'NOT_FOUND'],
          event_timestamps: [iso(NOW_S - HOUR), iso(NOW_S - 50 * HOUR), '1970-01-01T00:00:00Z'],
        },
        {
          values: [['vip', 'ü'], null, null],
          statuses: ['PRESENT', 'NOT_FOUND', 'NOT_FOUND'],
          event_timestamps: [iso(NOW_S - HOUR), '1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'],
        },
      ]);
    });

    it('fetches every view of every entity with one HMGET per entity hash, all in one socket write', async () => {
      const rows = 50;
      const customers = Array.from({ length: rows }, (_, i) => (i === 0 ? 'c1' : `x${i}`));
      const merchants = Array.from({ length: rows }, (_, i) => (i % 2 === 0 ? 'm1' : `y${i}`));
      const socket = store['client'].stream;
      const writes = jest.spyOn(socket, '_write');
      const batches = jest.spyOn(socket, '_writev');
      const before = await commandCalls('hmget');
      const response = await reader.getOnlineFeatures({
        feature_service: 'fraud_features',
        entities: { customer_id: customers, merchant_id: merchants },
        full_feature_names: true,
      });
      const after = await commandCalls('hmget');
      expect(writes).not.toHaveBeenCalled();
      expect(batches).toHaveBeenCalledTimes(1);
      expect(batches.mock.calls[0]![0]).toHaveLength(rows + rows / 2 + 1);
      writes.mockRestore();
      batches.mockRestore();
      // Distinct entity hashes: 50 customers + 25 distinct merchants + m1.
      expect(after - before).toBe(rows + rows / 2 + 1);
      expect(response.results[0]!.values[0]).toBe('c1');
      expect(response.results[2]!.values[0]).toBe(3);
      expect(response.results[5]!.values.filter((v) => v === 0.015)).toHaveLength(rows / 2);
    });
    it('reads an entity asked for twice once, and answers both rows', async () => {
      const before = await commandCalls('hmget');
      const response = await reader.getOnlineFeatures({
        features: ['customer_stats:txn_count_1h', 'customer_stats:tags'],
        entities: { customer_id: ['c1', 'c2', 'c1'] },
      });
      const after = await commandCalls('hmget');
      expect(after - before).toBe(2);
      expect(response.results[1]!.values).toEqual([3, response.results[1]!.values[1], 3]);
      expect(response.results[2]!.values[0]).toEqual(['vip', 'ü']);
      expect(response.results[2]!.values[2]).toEqual(['vip', 'ü']);
      expect(response.results[2]!.values[2]).not.toBe(response.results[2]!.values[0]);
      expect(response.results[1]!.event_timestamps[2]).toBe(response.results[1]!.event_timestamps[0]);
    });
  });

  describe('write', () => {
    it('writes Feast-identical hashes: murmur fields, Value bytes, _ts Timestamp', async () => {
      const summary = await writer.writeToOnlineStore('customer_stats', {
        customer_id: ['w1'],
        txn_count_1h: [308],
        avg_amount_30d: [0.5],
        tags: [['a']],
        event_timestamp: [new Date(1640991600_000).toISOString()],
      });
      expect(summary.written).toBe(1);
      const hash = await raw.hgetallBuffer(customerKey('w1'));
      expect(hash).toEqual({
        [redisField('customer_stats', 'txn_count_1h').toString()]: feastValue.int64(308),
        [redisField('customer_stats', 'avg_amount_30d').toString()]: feastValue.double(0.5),
        [redisField('customer_stats', 'tags').toString()]: feastValue.stringList(['a']),
        '_ts:customer_stats': Buffer.from('08f096be8e06', 'hex'),
      });
      const fields = await raw.hmgetBuffer(customerKey('w1'), redisField('customer_stats', 'txn_count_1h'));
      expect(fields[0]!.toString('hex')).toBe('20b402');
    });

    it('never replaces newer values with older (or equally old) ones, and takes newer ones', async () => {
      const row = (count: number, at: string) => ({
        customer_id: ['w2'],
        txn_count_1h: [count],
        avg_amount_30d: [1],
        tags: [[]],
        event_timestamp: [at],
      });
      await writer.writeToOnlineStore('customer_stats', row(5, '2022-01-01T12:00:00Z'));
      const older = await writer.writeToOnlineStore('customer_stats', row(4, '2022-01-01T11:00:00Z'));
      const same = await writer.writeToOnlineStore('customer_stats', row(6, '2022-01-01T12:00:00.500Z'));
      expect([older.written, older.skipped, same.written]).toEqual([0, 1, 0]);
      const field = redisField('customer_stats', 'txn_count_1h');
      expect((await raw.hmgetBuffer(customerKey('w2'), field))[0]).toEqual(feastValue.int64(5));
      const newer = await writer.writeToOnlineStore('customer_stats', row(7, '2022-01-01T13:00:00Z'));
      expect(newer.written).toBe(1);
      expect(await raw.hmgetBuffer(customerKey('w2'), field, '_ts:customer_stats')).toEqual([
        feastValue.int64(7),
        timestampBytes(Date.parse('2022-01-01T13:00:00Z') / 1000),
      ]);
    });

    it('does not disturb other views sharing the entity hash', async () => {
      await raw.hset(
        customerKey('w3'),
        redisField('other_view', 'f'),
        feastValue.int64(1),
        redisTsField('other_view'),
        timestampBytes(NOW_S),
      );
      await writer.writeToOnlineStore('customer_stats', {
        customer_id: ['w3'],
        txn_count_1h: [1],
        avg_amount_30d: [1],
        tags: [[]],
        event_timestamp: ['2000-01-01T00:00:00Z'],
      });
      const hash = await raw.hgetallBuffer(customerKey('w3'));
      expect(Object.keys(hash)).toHaveLength(2 + 4);
      expect(hash['_ts:other_view']).toEqual(timestampBytes(NOW_S));
    });

    it('sets the key TTL when configured', async () => {
      const expiring = new RedisOnlineStore({
        project: PROJECT,
        connection: { host: '127.0.0.1', port: 6379, ssl: false, db: 0 },
        keyTtlSeconds: 300,
      });
      try {
        await new OnlineFeatureWriter(fixedRegistry(fraudRegistry()), expiring).writeToOnlineStore(
          'customer_stats',
          {
            customer_id: ['w4'],
            txn_count_1h: [1],
            avg_amount_30d: [1],
            tags: [[]],
            event_timestamp: ['2022-01-01T00:00:00Z'],
          },
        );
        const ttl = await raw.ttl(customerKey('w4'));
        expect(ttl).toBeGreaterThan(290);
        expect(ttl).toBeLessThanOrEqual(300);
      } finally {
        await expiring.close();
      }
    });
  });

  describe('when Redis stops answering (a partition: the link stays up, nothing comes back)', () => {
    it('pays one command timeout, then fails at once until Redis answers again', async () => {
      const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
      const proxy = await TcpFaultProxy.forUrl(url).start();
      const { hostname, port } = new URL(proxy.urlFor(url));
      const partitioned = new RedisOnlineStore({
        project: PROJECT,
        connection: { host: hostname, port: Number(port), ssl: false, db: 0 },
        connectTimeoutMs: 300,
        commandTimeoutMs: 150,
      });
      const read = () => partitioned.read(customerStatsRead());
      const failure = () =>
        read().then(
          () => undefined,
          (e: unknown) => e as RegattaError,
        );
      try {
        await read();
        proxy.blackhole();
        const first = performance.now();
        expect(await failure()).toMatchObject({ code: 'UNAVAILABLE' });
        expect(performance.now() - first).toBeGreaterThanOrEqual(140);
        const later = performance.now();
        for (let i = 0; i < 10; i++) expect(await failure()).toMatchObject({ code: 'UNAVAILABLE' });
        expect(performance.now() - later).toBeLessThan(150); // ten reads, less than one command timeout
        proxy.restore();
        await eventually(
          async () =>
            await read().then(
              () => true,
              () => false,
            ),
          'reads to work again',
          10_000,
        );
      } finally {
        await partitioned.close();
        await proxy.stop();
      }
    });
  });

  describe('when Redis is unreachable', () => {
    const oneRow = {
      entityKey: entityKeyV3({ customer_id: 'c1' }),
      values: [feastValue.int64(1)],
      eventTimeMs: Date.now(),
    };

    it('answers UNAVAILABLE quickly and reports down', async () => {
      const port = await new Promise<number>((resolve) => {
        const server = createServer();
        server.listen(0, '127.0.0.1', () => {
          const address = server.address() as { port: number };
          server.close(() => resolve(address.port));
        });
      });
      const dead = new RedisOnlineStore({
        project: PROJECT,
        connection: { host: '127.0.0.1', port, ssl: false, db: 0 },
        connectTimeoutMs: 200,
        commandTimeoutMs: 300,
      });
      try {
        const started = Date.now();
        const err = await dead.read(customerStatsRead()).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(RegattaError);
        expect((err as RegattaError).code).toBe('UNAVAILABLE');
        expect(Date.now() - started).toBeLessThan(10_000);
        expect((await dead.health()).status).toBe('down');

        // Once the connection is known to be down, reads fail at once: they do not wait in the client's queue
        // for the next reconnection attempt, which by now is hundreds of milliseconds apart.
        await new Promise((r) => setTimeout(r, 2_000));
        const t = performance.now();
        for (let i = 0; i < 3; i++) {
          const again = await dead.read(customerStatsRead()).then(
            () => undefined,
            (e: unknown) => e as RegattaError,
          );
          expect(again).toMatchObject({ code: 'UNAVAILABLE' });
          expect(again!.message).toMatch(
            /^online store redis unavailable: .*ECONNREFUSED.*\(reconnecting in the background\)$/,
          );
        }
        expect(performance.now() - t).toBeLessThan(100); // the client's own retries are ~450 ms apart by now
        const write = await dead
          .write({ view: 'customer_stats', features: ['txn_count_1h'], rows: [oneRow] })
          .then(
            () => undefined,
            (e: unknown) => e as RegattaError,
          );
        expect(write).toMatchObject({ code: 'UNAVAILABLE' });
      } finally {
        await dead.close();
      }
    });
  });
});
