import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { FeatureRepo, MemoryOnlineStore } from '@regatta/feast';
import { FeaturesService, requestedFeatureCount } from './features.service.js';
import { featuresMetrics } from './metrics.js';
import { type TestRepo, createTestRepo } from './testing/test-repo.js';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const HOUR = 3_600_000;
const EPOCH = '1970-01-01T00:00:00Z';

async function counterValue(status: string): Promise<number> {
  const metric = await featuresMetrics.values.get();
  return metric.values.find((v) => v.labels.status === status)?.value ?? 0;
}

async function ageCount(): Promise<number> {
  const metric = await featuresMetrics.valueAge.get();
  return metric.values.find((v) => v.metricName === 'features_value_age_seconds_count')?.value ?? 0;
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function caught(run: () => Promise<unknown>): Promise<RegattaError> {
  try {
    await run();
  } catch (err) {
    if (err instanceof RegattaError) return err;
    throw err;
  }
  throw new Error('expected a RegattaError');
}

describe(FeaturesService.name, () => {
  let testRepo: TestRepo;
  let store: MemoryOnlineStore;
  let repo: FeatureRepo;
  let service: FeaturesService;

  beforeEach(async () => {
    testRepo = createTestRepo({ project: 'unit_features' });
    store = new MemoryOnlineStore();
    repo = await FeatureRepo.open(testRepo.dir, { store, now: () => NOW });
    service = new FeaturesService(repo, { now: () => NOW });
    await repo.writer.writeToOnlineStore('customer_stats', {
      customer_id: ['c1'],
      txn_count_1h: [3],
      avg_amount_30d: [42.5],
      tags: [['new', 'web']],
      event_timestamp: [new Date(NOW - HOUR).toISOString()],
    });
    await repo.writer.writeToOnlineStore('merchant_risk', {
      merchant_id: ['m1'],
      fraud_rate: [0.125],
      event_timestamp: [new Date(NOW - 2 * HOUR).toISOString()],
    });
  });

  afterEach(async () => {
    await repo.close();
    testRepo.remove();
  });

  describe('getFeatures', () => {
    it('answers in request order with PRESENT, NOT_FOUND and OUTSIDE_MAX_AGE (TTL enforced, value kept)', async () => {
      const reply = await service.getFeatures(
        {
          features: ['customer_stats:txn_count_1h', 'merchant_risk:fraud_rate', 'customer_stats:tags'],
          entities: { customer_id: ['c1', 'c2'], merchant_id: ['m1', 'm1'] },
        },
        'features.get.v1',
      );
      expect(reply).toEqual({
        metadata: { feature_names: ['customer_id', 'merchant_id', 'txn_count_1h', 'tags', 'fraud_rate'] },
        results: [
          { values: ['c1', 'c2'], statuses: ['PRESENT', 'PRESENT'], event_timestamps: [EPOCH, EPOCH] },
          { values: ['m1', 'm1'], statuses: ['PRESENT', 'PRESENT'], event_timestamps: [EPOCH, EPOCH] },
          {
            values: [3, null],
            statuses: ['PRESENT', 'NOT_FOUND'],
            event_timestamps: ['2024-06-01T11:00:00Z', EPOCH],
          },
          {
            values: [['new', 'web'], null],
            statuses: ['PRESENT', 'NOT_FOUND'],
            event_timestamps: ['2024-06-01T11:00:00Z', EPOCH],
          },
          {
            values: [0.125, 0.125],
            statuses: ['OUTSIDE_MAX_AGE', 'OUTSIDE_MAX_AGE'],
            event_timestamps: ['2024-06-01T10:00:00Z', '2024-06-01T10:00:00Z'],
          },
        ],
      });
    });

    it('reads every view of every entity in one store round trip', async () => {
      const before = store.reads;
      await service.getFeatures(
        {
          feature_service: 'fraud_features',
          entities: { customer_id: ['c1', 'c2', 'c3'], merchant_id: ['m1', 'm1', 'm2'] },
        },
        'features.get.v1',
      );
      expect(store.reads - before).toBe(1);
    });

    it('serves a feature service with view-prefixed names when full_feature_names is set', async () => {
      const reply = await service.getFeatures(
        {
          feature_service: 'fraud_features',
          entities: { customer_id: ['c1'], merchant_id: ['m1'] },
          full_feature_names: true,
        },
        'features.get.v1',
      );
      expect(reply.metadata.feature_names).toEqual([
        'customer_id',
        'merchant_id',
        'customer_stats__txn_count_1h',
        'customer_stats__avg_amount_30d',
        'customer_stats__tags',
        'merchant_risk__fraud_rate',
      ]);
      expect(reply.results[5]!.values).toEqual([0.125]);
    });

    it.each([
      [{ features: ['nope:x'] }, 'feature view nope'],
      [{ features: ['customer_stats:nope'] }, 'feature nope'],
      [{ feature_service: 'nope' }, 'feature service nope'],
    ])('is NOT_FOUND naming the unknown name in %j', async (selection, named) => {
      const err = await caught(() =>
        service.getFeatures({ ...selection, entities: { customer_id: ['c1'] } }, 'features.get.v1'),
      );
      expect(err.code).toBe('NOT_FOUND');
      expect(err.message).toContain(named);
    });

    it('is INVALID_ARGUMENT naming the join key for an entity value of the wrong type', async () => {
      const err = await caught(() =>
        service.getFeatures(
          { features: ['driver_stats:trips'], entities: { driver_id: ['abc'] } },
          'features.get.v1',
        ),
      );
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toContain('driver_id');
    });

    it('refuses more values than the cap before reading the store', async () => {
      const before = store.reads;
      const err = await caught(() =>
        service.getFeatures(
          {
            feature_service: 'fraud_features',
            entities: { customer_id: ['a', 'b', 'c'], merchant_id: ['m', 'm', 'm'] },
          },
          'features.get.v1',
          10,
        ),
      );
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toContain('12 values (3 entity rows x 4 features)');
      expect(store.reads).toBe(before);
    });

    it('is UNAVAILABLE when the store cannot be reached', async () => {
      store.down = true;
      const err = await caught(() =>
        service.getFeatures(
          { features: ['customer_stats:txn_count_1h'], entities: { customer_id: ['c1'] } },
          'features.get.v1',
        ),
      );
      expect(err.code).toBe('UNAVAILABLE');
    });

    it('counts served values by status and observes one age per entity row and view', async () => {
      const present = await counterValue('PRESENT');
      const notFound = await counterValue('NOT_FOUND');
      const stale = await counterValue('OUTSIDE_MAX_AGE');
      const ages = await ageCount();
      await service.getFeatures(
        {
          feature_service: 'fraud_features',
          entities: { customer_id: ['c1', 'c2'], merchant_id: ['m1', 'm1'] },
        },
        'features.get.v1',
      );
      await nextTick();
      // c1: 3 present; c2: 3 not found; m1 twice: stale. Join-key columns are not counted.
      expect((await counterValue('PRESENT')) - present).toBe(3);
      expect((await counterValue('NOT_FOUND')) - notFound).toBe(3);
      expect((await counterValue('OUTSIDE_MAX_AGE')) - stale).toBe(2);
      // Row 1: customer (1 h) and merchant (2 h); row 2: merchant only.
      expect((await ageCount()) - ages).toBe(3);
    });
  });

  describe('materializeOnStart', () => {
    it('loads the batch sources stamped now when the store is empty, so the demo rows are PRESENT', async () => {
      const empty = new MemoryOnlineStore();
      const fresh = await FeatureRepo.open(testRepo.dir, { store: empty, now: () => NOW });
      try {
        const summaries = await new FeaturesService(fresh).materializeOnStart('if-empty');
        expect(summaries.map((s) => [s.feature_view, s.written])).toEqual([
          ['customer_stats', 2],
          ['merchant_risk', 1],
        ]);
        const reply = await fresh.reader.getOnlineFeatures({
          features: ['customer_stats:tags', 'merchant_risk:fraud_rate'],
          entities: { customer_id: ['c1'], merchant_id: ['m1'] },
        });
        expect(
          reply.results.slice(2).map((c) => [c.values[0], c.statuses[0], c.event_timestamps[0]]),
        ).toEqual([
          [['new', 'web'], 'PRESENT', '2024-06-01T12:00:00Z'],
          [0.125, 'PRESENT', '2024-06-01T12:00:00Z'],
        ]);
      } finally {
        await fresh.close();
      }
    });

    it('leaves views whose first source row is stored alone (if-empty) and loads nothing with never', async () => {
      const service2 = new FeaturesService(repo);
      // merchant m1 is stored (beforeEach); customer c1 too: nothing to load.
      expect(await service2.materializeOnStart('if-empty')).toEqual([]);
      expect(await service2.materializeOnStart('never')).toEqual([]);
      expect((await service2.materializeOnStart('always')).map((s) => s.feature_view)).toEqual([
        'customer_stats',
        'merchant_risk',
      ]);
    });
  });

  describe('writes', () => {
    it('pushes rows to the views of a push source and never replaces a newer value with an older one', async () => {
      await service.push(
        'customer_push',
        {
          customer_id: ['c1'],
          txn_count_1h: [9],
          avg_amount_30d: [1],
          tags: [[]],
          event_timestamp: [new Date(NOW - 30 * 60_000).toISOString()],
        },
        'online',
      );
      const older = await service.writeToOnlineStore('customer_stats', {
        customer_id: ['c1'],
        txn_count_1h: [1],
        avg_amount_30d: [1],
        tags: [[]],
        event_timestamp: [new Date(NOW - 3 * HOUR).toISOString()],
      });
      expect(older.skipped).toBe(1);
      const reply = await service.getFeatures(
        { features: ['customer_stats:txn_count_1h'], entities: { customer_id: ['c1'] } },
        'get-online-features',
      );
      expect(reply.results[1]!.values).toEqual([9]);
      expect(reply.results[1]!.event_timestamps).toEqual(['2024-06-01T11:30:00Z']);
    });

    it('is NOT_FOUND naming an unknown push source', async () => {
      const err = await caught(() => service.push('nope', { customer_id: ['c1'] }, 'online'));
      expect(err.code).toBe('NOT_FOUND');
      expect(err.message).toContain('push source nope');
    });
  });
});

describe(requestedFeatureCount.name, () => {
  it('counts refs, or the features a service selects', async () => {
    const testRepo = createTestRepo({ project: 'unit_count' });
    const repo = await FeatureRepo.open(testRepo.dir, { store: new MemoryOnlineStore() });
    try {
      const registry = repo.registry.current();
      expect(requestedFeatureCount(registry, { features: ['a:b', 'a:c'], entities: {} })).toBe(2);
      expect(requestedFeatureCount(registry, { feature_service: 'fraud_features', entities: {} })).toBe(4);
    } finally {
      await repo.close();
      testRepo.remove();
    }
  });
});
