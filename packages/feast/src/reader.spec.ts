import { beforeEach, describe, expect, it } from '@jest/globals';
import { GetFeaturesReply, GetFeaturesRequest, RegattaError } from '@regatta/contracts';
import { serializeEntityKey } from './entity-key.js';
import { OnlineFeatureReader } from './reader.js';
import { MemoryOnlineStore } from './stores/memory-store.js';
import { fixedRegistry, fraudRegistry } from './testing/fixtures.js';
import { encodeValue, type FeastValue } from './value.js';

const NOW = Date.parse('2022-01-01T00:00:00Z');
const HOUR = 3600_000;
const str = (value: string) => ({ kind: 'string' as const, value });

let store: MemoryOnlineStore;
let reader: OnlineFeatureReader;

async function seed(
  view: string,
  key: Record<string, FeastValue>,
  eventTimeMs: number,
  values: Record<string, FeastValue>,
) {
  const names = Object.keys(values);
  await store.write({
    view,
    features: names,
    rows: [
      {
        entityKey: serializeEntityKey(Object.keys(key), Object.values(key)),
        values: names.map((n) => encodeValue(values[n]!)),
        eventTimeMs,
      },
    ],
  });
}

async function errorOf(promise: Promise<unknown>): Promise<RegattaError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof RegattaError) return err;
    throw err;
  }
  throw new Error('expected a RegattaError');
}

beforeEach(async () => {
  store = new MemoryOnlineStore();
  reader = new OnlineFeatureReader(fixedRegistry(fraudRegistry()), store, { now: () => NOW });
  await seed('customer_stats', { customer_id: str('c1') }, NOW - HOUR, {
    txn_count_1h: { kind: 'int64', value: 3n },
    avg_amount_30d: { kind: 'double', value: 42.5 },
    tags: { kind: 'string_list', value: ['vip'] },
  });
  await seed('merchant_risk', { merchant_id: str('m1') }, NOW - 2 * HOUR, {
    merchant_fraud_rate_90d: { kind: 'double', value: 0.01 },
    avg_amount_30d: { kind: 'double', value: 80 },
  });
});

describe(OnlineFeatureReader.name, () => {
  describe('getOnlineFeatures', () => {
    it('answers in Feast column-major shape: join keys first, then features, NOT_FOUND for unknown entities', async () => {
      const request = GetFeaturesRequest.parse({
        features: ['customer_stats:txn_count_1h'],
        entities: { customer_id: ['c1', 'c2'] },
        full_feature_names: false,
      });
      const response = await reader.getOnlineFeatures(request);
      expect(GetFeaturesReply.safeParse(response).success).toBe(true);
      expect(response).toEqual({
        metadata: { feature_names: ['customer_id', 'txn_count_1h'] },
        results: [
          {
            values: ['c1', 'c2'],
            statuses: ['PRESENT', 'PRESENT'],
            event_timestamps: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'],
          },
          {
            values: [3, null],
            statuses: ['PRESENT', 'NOT_FOUND'],
            event_timestamps: ['2021-12-31T23:00:00Z', '1970-01-01T00:00:00Z'],
          },
        ],
      });
    });

    it('shares one frozen metadata object between requests of the same shape, and only between them', async () => {
      const ask = (features: string[], entities: Record<string, string[]>, full_feature_names = false) =>
        reader.getOnlineFeatures({ features, entities, full_feature_names });
      const first = await ask(['customer_stats:txn_count_1h'], { customer_id: ['c1'] });
      const again = await ask(['customer_stats:txn_count_1h'], { customer_id: ['c2', 'c1'] });
      expect(again.metadata).toBe(first.metadata);
      expect(Object.isFrozen(first.metadata)).toBe(true);
      expect(Object.isFrozen(first.metadata.feature_names)).toBe(true);
      expect(() => first.metadata.feature_names.push('x')).toThrow(TypeError);

      const otherFeatures = await ask(['customer_stats:avg_amount_30d'], { customer_id: ['c1'] });
      const otherColumns = await ask(['customer_stats:txn_count_1h'], {
        customer_id: ['c1'],
        merchant_id: ['m1'],
      });
      const fullNames = await ask(['customer_stats:txn_count_1h'], { customer_id: ['c1'] }, true);
      expect(otherFeatures.metadata.feature_names).toEqual(['customer_id', 'avg_amount_30d']);
      expect(otherColumns.metadata.feature_names).toEqual(['customer_id', 'merchant_id', 'txn_count_1h']);
      expect(fullNames.metadata.feature_names).toEqual(['customer_id', 'customer_stats__txn_count_1h']);
      expect(first.metadata.feature_names).toEqual(['customer_id', 'txn_count_1h']);
    });

    it('names columns view__feature with full_feature_names', async () => {
      const response = await reader.getOnlineFeatures({
        features: ['customer_stats:avg_amount_30d', 'merchant_risk:avg_amount_30d'],
        entities: { customer_id: ['c1'], merchant_id: ['m1'] },
        full_feature_names: true,
      });
      expect(response.metadata.feature_names).toEqual([
        'customer_id',
        'merchant_id',
        'customer_stats__avg_amount_30d',
        'merchant_risk__avg_amount_30d',
      ]);
      expect(response.results.map((r) => r.values[0])).toEqual(['c1', 'm1', 42.5, 80]);
    });

    it('refuses features whose names collide without full_feature_names', async () => {
      const err = await errorOf(
        reader.getOnlineFeatures({
          features: ['customer_stats:avg_amount_30d', 'merchant_risk:avg_amount_30d'],
          entities: { customer_id: ['c1'], merchant_id: ['m1'] },
        }),
      );
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toMatch(/avg_amount_30d is requested twice.*full_feature_names/);
    });

    it('serves a feature service: all its views in one store round trip, grouped by view', async () => {
      const response = await reader.getOnlineFeatures({
        feature_service: 'fraud_features',
        entities: { customer_id: ['c1', 'c2'], merchant_id: ['m1', 'm1'] },
        full_feature_names: true,
      });
      expect(store.reads).toBe(1);
      expect(response.metadata.feature_names).toEqual([
        'customer_id',
        'merchant_id',
        'customer_stats__txn_count_1h',
        'customer_stats__avg_amount_30d',
        'customer_stats__tags',
        'merchant_risk__merchant_fraud_rate_90d',
        'merchant_risk__avg_amount_30d',
      ]);
      expect(response.results[4]).toEqual({
        values: [['vip'], null],
        statuses: ['PRESENT', 'NOT_FOUND'],
        event_timestamps: ['2021-12-31T23:00:00Z', '1970-01-01T00:00:00Z'],
      });
      expect(response.results[5]!.values).toEqual([0.01, 0.01]);
    });

    it('keeps the requested feature order within a view and groups views by first appearance', async () => {
      const response = await reader.getOnlineFeatures({
        features: [
          'customer_stats:avg_amount_30d',
          'merchant_risk:merchant_fraud_rate_90d',
          'customer_stats:txn_count_1h',
        ],
        entities: { customer_id: ['c1'], merchant_id: ['m1'] },
      });
      expect(response.metadata.feature_names.slice(2)).toEqual([
        'avg_amount_30d',
        'txn_count_1h',
        'merchant_fraud_rate_90d',
      ]);
    });

    it('returns OUTSIDE_MAX_AGE with the value when the event is older than the view TTL', async () => {
      await seed('customer_stats', { customer_id: str('old') }, NOW - 49 * HOUR, {
        txn_count_1h: { kind: 'int64', value: 7n },
      });
      await seed('customer_stats', { customer_id: str('edge') }, NOW - 48 * HOUR, {
        txn_count_1h: { kind: 'int64', value: 8n },
      });
      const response = await reader.getOnlineFeatures({
        features: ['customer_stats:txn_count_1h'],
        entities: { customer_id: ['old', 'edge'] },
      });
      expect(response.results[1]).toEqual({
        values: [7, 8],
        statuses: ['OUTSIDE_MAX_AGE', 'PRESENT'],
        event_timestamps: ['2021-12-29T23:00:00Z', '2021-12-30T00:00:00Z'],
      });
    });

    it('never expires values of views with ttl 0, and takes INT64 entity values as numbers or integer text', async () => {
      await seed('driver_stats', { driver_id: { kind: 'int64', value: 1001n } }, 0 + 1000, {
        trips: { kind: 'int64', value: 12n },
      });
      const response = await reader.getOnlineFeatures({
        features: ['driver_stats:trips'],
        entities: { driver_id: [1001, '1001'] },
      });
      expect(response.results[0]!.values).toEqual([1001, 1001]);
      expect(response.results[1]).toEqual({
        values: [12, 12],
        statuses: ['PRESENT', 'PRESENT'],
        event_timestamps: ['1970-01-01T00:00:01Z', '1970-01-01T00:00:01Z'],
      });
    });

    it('reports NULL_VALUE for a stored null and NOT_FOUND for a feature never written', async () => {
      await seed('customer_stats', { customer_id: str('c3') }, NOW - HOUR, {
        txn_count_1h: { kind: 'null' },
      });
      const response = await reader.getOnlineFeatures({
        features: ['customer_stats:txn_count_1h', 'customer_stats:avg_amount_30d'],
        entities: { customer_id: ['c3'] },
      });
      expect(response.results[1]).toEqual({
        values: [null],
        statuses: ['NULL_VALUE'],
        event_timestamps: ['2021-12-31T23:00:00Z'],
      });
      expect(response.results[2]).toEqual({
        values: [null],
        statuses: ['NOT_FOUND'],
        event_timestamps: ['1970-01-01T00:00:00Z'],
      });
    });

    it('accepts the entity name as column and reports it under the join key', async () => {
      const response = await reader.getOnlineFeatures({
        features: ['customer_stats:txn_count_1h'],
        entities: { customer: ['c1'] },
      });
      expect(response.metadata.feature_names).toEqual(['customer_id', 'txn_count_1h']);
      expect(response.results[1]!.values).toEqual([3]);
    });

    it('reads join keys from the columns a feature service maps them to, under its alias', async () => {
      const response = await reader.getOnlineFeatures({
        feature_service: 'payer_features',
        entities: { payer_id: ['c1'] },
        full_feature_names: true,
      });
      expect(response.metadata.feature_names).toEqual(['payer_id', 'payer__txn_count_1h']);
      expect(response.results[1]!.values).toEqual([3]);
    });

    it('serves entityless views under __dummy_id for every row', async () => {
      await seed('global_stats', { __dummy_id: str('') }, NOW - HOUR, {
        fraud_rate_1h: { kind: 'double', value: 0.2 },
      });
      const response = await reader.getOnlineFeatures({
        features: ['global_stats:fraud_rate_1h', 'customer_stats:txn_count_1h'],
        entities: { customer_id: ['c1', 'c2'] },
      });
      expect(response.results[1]!.values).toEqual([0.2, 0.2]);
      expect(response.results[2]!.values).toEqual([3, null]);
    });

    it('gives each row its own event time, and repeated rows the same values', async () => {
      await seed('customer_stats', { customer_id: str('c3') }, NOW - 3 * HOUR, {
        txn_count_1h: { kind: 'int64', value: 7n },
      });
      const response = await reader.getOnlineFeatures({
        features: ['customer_stats:txn_count_1h', 'customer_stats:avg_amount_30d'],
        entities: { customer_id: ['c1', 'c3', 'c1', 'c2'] },
      });
      expect(response.results[1]).toEqual({
        values: [3, 7, 3, null],
        statuses: ['PRESENT', 'PRESENT', 'PRESENT', 'NOT_FOUND'],
        event_timestamps: [
          '2021-12-31T23:00:00Z',
          '2021-12-31T21:00:00Z',
          '2021-12-31T23:00:00Z',
          '1970-01-01T00:00:00Z',
        ],
      });
      expect(response.results[2]!.event_timestamps).toEqual([
        '2021-12-31T23:00:00Z',
        '1970-01-01T00:00:00Z',
        '2021-12-31T23:00:00Z',
        '1970-01-01T00:00:00Z',
      ]);
    });

    it('answers the same refs asked with different entity columns, each as asked', async () => {
      const refs = ['customer_stats:txn_count_1h'];
      const byJoinKey = await reader.getOnlineFeatures({ features: refs, entities: { customer_id: ['c1'] } });
      const byEntity = await reader.getOnlineFeatures({ features: refs, entities: { customer: ['c1'] } });
      const missing = await errorOf(reader.getOnlineFeatures({ features: refs, entities: { amount: [1] } }));
      const again = await reader.getOnlineFeatures({
        features: refs,
        entities: { amount: [1], customer_id: ['c2'] },
      });
      expect(byJoinKey.results[1]!.values).toEqual([3]);
      expect(byEntity.metadata.feature_names).toEqual(['customer_id', 'txn_count_1h']);
      expect(byEntity.results[1]!.values).toEqual([3]);
      expect(missing.message).toMatch(/missing entity column customer_id/);
      expect(again.results.map((c) => c.values)).toEqual([['c2'], [null]]);
    });

    it('ignores request-data columns that are no join keys', async () => {
      const response = await reader.getOnlineFeatures({
        features: ['customer_stats:txn_count_1h'],
        entities: { customer_id: ['c1'], amount: [12.5] },
      });
      expect(response.metadata.feature_names).toEqual(['customer_id', 'txn_count_1h']);
    });

    it('throws NOT_FOUND naming an unknown view, feature or service', async () => {
      const entities = { customer_id: ['c1'] };
      const view = await errorOf(reader.getOnlineFeatures({ features: ['nope:x'], entities }));
      expect([view.code, view.message]).toEqual([
        'NOT_FOUND',
        'feature view nope not found in project fraud_test',
      ]);
      const feature = await errorOf(
        reader.getOnlineFeatures({ features: ['customer_stats:nope'], entities }),
      );
      expect([feature.code, feature.message]).toEqual([
        'NOT_FOUND',
        'feature nope not found in feature view customer_stats',
      ]);
      const service = await errorOf(reader.getOnlineFeatures({ feature_service: 'nope', entities }));
      expect(service.code).toBe('NOT_FOUND');
      expect(service.message).toContain('nope');
    });

    it('throws INVALID_ARGUMENT naming the join key for entity values of the wrong type', async () => {
      const err = await errorOf(
        reader.getOnlineFeatures({ features: ['driver_stats:trips'], entities: { driver_id: ['abc'] } }),
      );
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toBe('entity driver_id: expected a 64-bit integer, got "abc"');
      const number = await errorOf(
        reader.getOnlineFeatures({ features: ['customer_stats:tags'], entities: { customer_id: [5] } }),
      );
      expect(number.message).toMatch(/customer_id: expected a string/);
    });

    it('throws INVALID_ARGUMENT for missing entity columns, uneven columns, bad refs and offline views', async () => {
      const missing = await errorOf(
        reader.getOnlineFeatures({
          features: ['merchant_risk:avg_amount_30d'],
          entities: { customer_id: ['c1'] },
        }),
      );
      expect(missing.message).toBe(
        'missing entity column merchant_id (join key of feature view merchant_risk)',
      );
      const uneven = await errorOf(
        reader.getOnlineFeatures({
          feature_service: 'fraud_features',
          entities: { customer_id: ['c1', 'c2'], merchant_id: ['m1'] },
          full_feature_names: true,
        }),
      );
      expect(uneven.message).toMatch(/different lengths/);
      const ref = await errorOf(
        reader.getOnlineFeatures({ features: ['customer_stats'], entities: { customer_id: ['c1'] } }),
      );
      expect(ref.message).toMatch(/is not view:feature/);
      const offline = await errorOf(
        reader.getOnlineFeatures({ features: ['offline_only:x'], entities: { customer_id: ['c1'] } }),
      );
      expect(offline.message).toMatch(/not served online/);
      for (const err of [missing, uneven, ref, offline]) expect(err.code).toBe('INVALID_ARGUMENT');
    });

    it('passes an unreachable store on as UNAVAILABLE', async () => {
      store.down = true;
      const err = await errorOf(
        reader.getOnlineFeatures({
          features: ['customer_stats:txn_count_1h'],
          entities: { customer_id: ['c1'] },
        }),
      );
      expect(err.code).toBe('UNAVAILABLE');
    });

    it('answers an empty entity list with empty columns', async () => {
      const response = await reader.getOnlineFeatures({
        features: ['customer_stats:txn_count_1h'],
        entities: { customer_id: [] },
      });
      expect(response.results).toEqual([
        { values: [], statuses: [], event_timestamps: [] },
        { values: [], statuses: [], event_timestamps: [] },
      ]);
    });
  });
});
