import { beforeEach, describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { OnlineFeatureReader } from './reader.js';
import { MemoryOnlineStore } from './stores/memory-store.js';
import { fixedRegistry, fraudRegistry } from './testing/fixtures.js';
import { OnlineFeatureWriter, PushRequest } from './writer.js';

const NOW = Date.parse('2022-01-01T00:00:00Z');
let store: MemoryOnlineStore;
let writer: OnlineFeatureWriter;
let reader: OnlineFeatureReader;

beforeEach(() => {
  store = new MemoryOnlineStore();
  const registry = fixedRegistry(fraudRegistry());
  writer = new OnlineFeatureWriter(registry, store, { now: () => NOW });
  reader = new OnlineFeatureReader(registry, store, { now: () => NOW });
});

const customerRow = (overrides: Record<string, unknown[]> = {}) => ({
  customer_id: ['c1'],
  txn_count_1h: [3],
  avg_amount_30d: [12.5],
  tags: [['a', 'b']],
  event_timestamp: ['2021-12-31T23:00:00Z'],
  ...overrides,
});

async function errorOf(promise: Promise<unknown>): Promise<RegattaError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof RegattaError) return err;
    throw err;
  }
  throw new Error('expected a RegattaError');
}

const read = (ids: string[]) =>
  reader.getOnlineFeatures({
    features: ['customer_stats:txn_count_1h', 'customer_stats:avg_amount_30d', 'customer_stats:tags'],
    entities: { customer_id: ids },
  });

describe(OnlineFeatureWriter.name, () => {
  describe('writeToOnlineStore', () => {
    it('converts df values to the declared types and stores them for reading', async () => {
      const summary = await writer.writeToOnlineStore(
        'customer_stats',
        customerRow({ txn_count_1h: ['3'], avg_amount_30d: ['12.5'] }),
      );
      expect(summary).toEqual({ feature_view: 'customer_stats', rows: 1, written: 1, skipped: 0 });
      const response = await read(['c1']);
      expect(
        response.results.slice(1).map((r) => [r.values[0], r.statuses[0], r.event_timestamps[0]]),
      ).toEqual([
        [3, 'PRESENT', '2021-12-31T23:00:00Z'],
        [12.5, 'PRESENT', '2021-12-31T23:00:00Z'],
        [['a', 'b'], 'PRESENT', '2021-12-31T23:00:00Z'],
      ]);
    });

    it('keeps the latest row of an entity within one batch', async () => {
      const summary = await writer.writeToOnlineStore('customer_stats', {
        customer_id: ['c1', 'c1', 'c1'],
        txn_count_1h: [1, 3, 2],
        avg_amount_30d: [1, 3, 2],
        tags: [[], [], []],
        event_timestamp: ['2021-12-31T21:00:00Z', '2021-12-31T23:00:00Z', '2021-12-31T22:00:00Z'],
      });
      expect(summary).toEqual({ feature_view: 'customer_stats', rows: 3, written: 1, skipped: 2 });
      expect((await read(['c1'])).results[1]!.values).toEqual([3]);
    });

    it('stamps rows with the current time when asked', async () => {
      await writer.writeToOnlineStore(
        'customer_stats',
        customerRow({ event_timestamp: ['2001-01-01T00:00:00Z'] }),
        { stampNow: true },
      );
      const response = await read(['c1']);
      expect(response.results[1]!.event_timestamps).toEqual(['2022-01-01T00:00:00Z']);
      expect(response.results[1]!.statuses).toEqual(['PRESENT']);
    });

    it('treats empty CSV cells of non-text features as null', async () => {
      await writer.writeToOnlineStore('customer_stats', customerRow({ avg_amount_30d: [''] }));
      expect((await read(['c1'])).results[2]).toMatchObject({ values: [null], statuses: ['NULL_VALUE'] });
    });

    it('names the column and row of a value that does not fit its type', async () => {
      const err = await errorOf(
        writer.writeToOnlineStore('customer_stats', customerRow({ txn_count_1h: ['many'] })),
      );
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toBe('txn_count_1h (row 0): expected a 64-bit integer, got "many"');
    });

    it('requires join keys, every feature and an event timestamp', async () => {
      const { customer_id: _, ...noKey } = customerRow();
      expect((await errorOf(writer.writeToOnlineStore('customer_stats', noKey))).message).toBe(
        'df has no column customer_id (join key of feature view customer_stats)',
      );
      const { tags: __, ...noTags } = customerRow();
      expect((await errorOf(writer.writeToOnlineStore('customer_stats', noTags))).message).toBe(
        'df lacks feature columns of customer_stats: tags',
      );
      const { event_timestamp: ___, ...noTime } = customerRow();
      expect((await errorOf(writer.writeToOnlineStore('customer_stats', noTime))).message).toMatch(
        /no event timestamp column/,
      );
      expect((await errorOf(writer.writeToOnlineStore('nope', customerRow()))).code).toBe('NOT_FOUND');
    });
  });

  describe('push', () => {
    it('writes to the views fed by the push source', async () => {
      const summaries = await writer.push('customer_push', customerRow());
      expect(summaries).toEqual([{ feature_view: 'customer_stats', rows: 1, written: 1, skipped: 0 }]);
      expect((await read(['c1'])).results[1]!.values).toEqual([3]);
    });

    it('rejects unknown push sources and offline targets', async () => {
      expect((await errorOf(writer.push('nope', customerRow()))).code).toBe('NOT_FOUND');
      const offline = await errorOf(writer.push('customer_push', customerRow(), 'online_and_offline'));
      expect([offline.code, offline.message]).toEqual([
        'INVALID_ARGUMENT',
        'push to online_and_offline is not supported: Regatta serves the online store only',
      ]);
    });
  });
});

describe('PushRequest', () => {
  it('defaults `to` to online', () => {
    expect(PushRequest.parse({ push_source_name: 'p', df: { a: [1] } }).to).toBe('online');
  });
});
