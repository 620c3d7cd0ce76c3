import { describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { lengthDelimited as ld, varintField as vf } from '../testing/feast-layout.js';
import { ValueType } from '../value-type.js';
import { decodeRegistry, encodeRegistry, parseRegistry } from './codec.js';
import { definitionToRegistry, parseTtl, type RepoDefinitionInput } from './definition.js';
import type { RegistryContent } from './model.js';

const s = (text: string) => Buffer.from(text, 'utf8');
const cat = (...parts: Buffer[]) => Buffer.concat(parts);
const mapEntry = (field: number, k: string, v: string) => ld(field, cat(ld(1, s(k)), ld(2, s(v))));
const featureSpec = (name: string, type: number) => cat(ld(1, s(name)), vf(2, type));

// A registry laid out field by field as Feast writes it, with fields Regatta does not read (tags, owner,
// file format, materialization intervals) mixed in, two projects, and a disabled view.
function feastWrittenRegistry(): Buffer {
  const entity = (name: string, joinKey: string, type: number, project: string) =>
    ld(
      1,
      ld(
        1,
        cat(
          ld(1, s(name)),
          vf(2, type),
          ld(3, s('a driver')),
          ld(4, s(joinKey)),
          mapEntry(8, 'team', 'ml'),
          ld(9, s(project)),
          ld(10, s('owner@x')),
        ),
      ),
    );
  const view = cat(
    ld(1, s('driver_hourly_stats')),
    ld(2, s('my_project')),
    ld(3, s('driver')),
    ld(4, featureSpec('conv_rate', ValueType.FLOAT)),
    ld(4, featureSpec('acc_rate', ValueType.FLOAT)),
    ld(4, featureSpec('avg_daily_trips', ValueType.INT64)),
    mapEntry(5, 'tier', 'gold'),
    ld(6, vf(1, 86400)),
    ld(
      7,
      cat(
        vf(1, 1),
        ld(3, s('event_timestamp')),
        ld(5, s('created')),
        ld(11, cat(vf(1, 1), ld(2, s('data/driver_stats.parquet')))),
        ld(20, s('driver_source')),
      ),
    ),
    vf(8, 1),
    ld(12, featureSpec('driver_id', ValueType.INT64)),
  );
  const disabledView = cat(ld(1, s('old_view')), ld(2, s('my_project')), vf(8, 1), vf(20, 1));
  const otherProjectView = cat(ld(1, s('elsewhere')), ld(2, s('other_project')), vf(8, 1));
  const service = cat(
    ld(1, s('driver_activity')),
    ld(2, s('my_project')),
    ld(
      3,
      cat(
        ld(1, s('driver_hourly_stats')),
        ld(2, featureSpec('conv_rate', ValueType.FLOAT)),
        ld(3, s('dhs')),
        mapEntry(4, 'driver_id', 'driver'),
      ),
    ),
  );
  return cat(
    entity('driver', 'driver_id', ValueType.INT64, 'my_project'),
    entity('driver', 'driver_id', ValueType.STRING, 'other_project'),
    ld(3, s('1')),
    ld(5, vf(1, 1640991600)),
    ld(6, cat(ld(1, view), ld(2, cat(ld(1, vf(1, 1600000000)), ld(3, ld(1, vf(1, 1))))))),
    ld(6, ld(1, disabledView)),
    ld(6, ld(1, otherProjectView)),
    ld(7, ld(1, service)),
    ld(8, ld(1, cat(ld(1, s('transformed_conv_rate')), ld(2, s('my_project'))))),
    ld(17, ld(1, ld(1, s('my_project')))),
  );
}

const DEMO: RepoDefinitionInput = {
  project: 'regatta_demo',
  entities: [
    { name: 'customer', join_key: 'customer_id', value_type: 'STRING' },
    { name: 'merchant', join_key: 'merchant_id', value_type: 'STRING' },
  ],
  feature_views: [
    {
      name: 'customer_stats',
      entities: ['customer'],
      ttl: '2d',
      features: [
        { name: 'txn_count_1h', dtype: 'INT64' },
        { name: 'avg_amount_30d', dtype: 'DOUBLE' },
      ],
      source: { path: 'data/customer_stats.csv', created_timestamp_column: 'created' },
      push_source: 'customer_stats_push',
    },
    {
      name: 'merchant_risk',
      entities: ['merchant'],
      ttl: 604800,
      features: [{ name: 'merchant_fraud_rate_90d', dtype: 'DOUBLE' }],
    },
    { name: 'global_stats', features: [{ name: 'fraud_rate_1h', dtype: 'DOUBLE' }] },
  ],
  feature_services: [
    { name: 'fraud_features', features: ['customer_stats', 'merchant_risk'] },
    {
      name: 'small',
      features: [
        {
          view: 'customer_stats',
          features: ['txn_count_1h'],
          alias: 'cs',
          join_key_map: { customer_id: 'payer_id' },
        },
      ],
    },
  ],
};

describe(decodeRegistry.name, () => {
  it('reads a Feast-written registry, keeping only the project asked for', () => {
    const content = decodeRegistry(feastWrittenRegistry(), 'my_project');
    expect(content).toEqual({
      project: 'my_project',
      entities: [
        { name: 'driver', joinKey: 'driver_id', valueType: ValueType.INT64, description: 'a driver' },
      ],
      featureViews: [
        {
          name: 'driver_hourly_stats',
          entities: ['driver'],
          features: [
            { name: 'conv_rate', valueType: ValueType.FLOAT },
            { name: 'acc_rate', valueType: ValueType.FLOAT },
            { name: 'avg_daily_trips', valueType: ValueType.INT64 },
          ],
          entityColumns: [{ name: 'driver_id', valueType: ValueType.INT64 }],
          ttlSeconds: 86400,
          online: true,
          batchSource: {
            name: 'driver_source',
            type: 1,
            path: 'data/driver_stats.parquet',
            timestampField: 'event_timestamp',
            createdTimestampColumn: 'created',
          },
        },
      ],
      featureServices: [
        {
          name: 'driver_activity',
          projections: [
            {
              viewName: 'driver_hourly_stats',
              alias: 'dhs',
              features: [{ name: 'conv_rate', valueType: ValueType.FLOAT }],
              joinKeyMap: { driver_id: 'driver' },
            },
          ],
        },
      ],
      onDemandFeatureViews: ['transformed_conv_rate'],
      lastUpdatedMs: 1640991600_000,
    });
  });

  it('rejects bytes that are not a registry', () => {
    expect(() => decodeRegistry(Buffer.from('not a registry at all'), 'p')).toThrow(RegattaError);
  });
});

describe(encodeRegistry.name, () => {
  it('round-trips what it writes', () => {
    const content = definitionToRegistry(DEMO);
    const bytes = encodeRegistry(content, { nowMs: 1700000000_000 });
    expect(decodeRegistry(bytes, 'regatta_demo')).toEqual({
      ...content,
      onDemandFeatureViews: [],
      lastUpdatedMs: 1700000000_000,
    });
  });

  it('writes the same bytes for the same definition and time', () => {
    const content = definitionToRegistry(DEMO);
    expect(Buffer.from(encodeRegistry(content, { nowMs: 1 }))).toEqual(
      Buffer.from(encodeRegistry(content, { nowMs: 1 })),
    );
  });

  it('writes objects under the field numbers Feast reads', () => {
    const content: RegistryContent = {
      project: 'p',
      entities: [{ name: 'e', joinKey: 'k', valueType: ValueType.STRING }],
      featureViews: [],
      featureServices: [],
    };
    const bytes = Buffer.from(encodeRegistry(content, { nowMs: 0, versionId: 'v' }));
    const spec = cat(ld(1, s('e')), vf(2, ValueType.STRING), ld(4, s('k')), ld(9, s('p')));
    // Registry.entities (1) -> Entity.spec (1) -> EntitySpecV2 name=1, value_type=2, join_key=4, project=9
    expect(bytes.includes(ld(1, spec))).toBe(true);
    // Registry.projects (17) -> Project.spec (1) -> name (1)
    expect(bytes.includes(ld(1, ld(1, s('p'))))).toBe(true);
  });
});

describe('FeastRegistry', () => {
  const registry = parseRegistry(encodeRegistry(definitionToRegistry(DEMO)), 'regatta_demo');

  it('resolves join keys with their types from entity columns', () => {
    expect(registry.joinKeys(registry.featureView('customer_stats'))).toEqual([
      { joinKey: 'customer_id', entity: 'customer', valueType: ValueType.STRING },
    ]);
  });

  it('gives entityless views the __dummy_id join key', () => {
    const view = registry.featureView('global_stats');
    expect(registry.isEntityless(view)).toBe(true);
    expect(registry.joinKeys(view)).toEqual([
      { joinKey: '__dummy_id', entity: '__dummy', valueType: ValueType.STRING },
    ]);
  });

  it('falls back to entity definitions when a view has no entity columns', () => {
    const content = decodeRegistry(feastWrittenRegistry(), 'my_project');
    const legacy = parseRegistry(
      encodeRegistry({
        ...content,
        featureViews: content.featureViews.map((v) => ({ ...v, entityColumns: [] })),
      }),
      'my_project',
    );
    expect(legacy.joinKeys(legacy.featureView('driver_hourly_stats'))).toEqual([
      { joinKey: 'driver_id', entity: 'driver', valueType: ValueType.INT64 },
    ]);
  });

  it('throws NOT_FOUND naming unknown views and services, and says on-demand views are not served', () => {
    expect(() => registry.featureView('nope')).toThrow('feature view nope not found in project regatta_demo');
    expect(() => registry.featureService('nope')).toThrow('feature service nope not found');
    const feast = parseRegistry(feastWrittenRegistry(), 'my_project');
    expect(() => feast.featureView('transformed_conv_rate')).toThrow(/on-demand feature view/);
  });
});

describe(definitionToRegistry.name, () => {
  it('expands feature services and sources', () => {
    const content = definitionToRegistry(DEMO);
    const small = content.featureServices.find((x) => x.name === 'small')!;
    expect(small.projections).toEqual([
      {
        viewName: 'customer_stats',
        alias: 'cs',
        features: [{ name: 'txn_count_1h', valueType: ValueType.INT64 }],
        joinKeyMap: { customer_id: 'payer_id' },
      },
    ]);
    const view = content.featureViews.find((v) => v.name === 'customer_stats')!;
    expect(view.ttlSeconds).toBe(172800);
    expect(view.streamSource).toEqual({
      name: 'customer_stats_push',
      type: 9,
      timestampField: 'event_timestamp',
    });
    expect(content.entities.map((e) => e.name)).toEqual(['customer', 'merchant', '__dummy']);
  });

  it('names the first problem', () => {
    const bad = (patch: Partial<RepoDefinitionInput>) => () => definitionToRegistry({ ...DEMO, ...patch });
    expect(
      bad({ feature_views: [{ name: 'v', entities: ['ghost'], features: [{ name: 'f', dtype: 'INT64' }] }] }),
    ).toThrow('feature view v uses unknown entity ghost');
    expect(bad({ feature_views: [{ name: 'v', features: [{ name: 'f', dtype: 'DECIMAL' }] }] })).toThrow(
      /feature v:f dtype: unknown value type "DECIMAL"/,
    );
    expect(bad({ feature_services: [{ name: 's', features: ['ghost'] }] })).toThrow(
      /unknown feature view ghost/,
    );
    expect(bad({ entities: [{ name: 'e', value_type: 'DOUBLE' }] })).toThrow(/join keys must be/);
    expect(bad({ entities: [...DEMO.entities!, { name: 'customer', value_type: 'STRING' }] })).toThrow(
      /entity customer is defined twice/,
    );
    expect(() => definitionToRegistry({ project: 'p', extra: 1 })).toThrow(/extra/);
  });
});

describe(parseTtl.name, () => {
  it('reads seconds and unit suffixes', () => {
    expect(parseTtl(30)).toBe(30);
    expect(parseTtl('90m')).toBe(5400);
    expect(parseTtl('48h')).toBe(172800);
    expect(parseTtl('7d')).toBe(604800);
    expect(parseTtl('0')).toBe(0);
  });
});
