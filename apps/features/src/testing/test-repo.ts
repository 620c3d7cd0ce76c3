import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type RepoDefinitionInput, definitionToRegistry, encodeRegistry } from '@regatta/feast';

/** A fraud-style repository of `project`: string, int64 and list features, TTLs, a feature service, a push source. */
export function testDefinition(project: string): RepoDefinitionInput {
  return {
    project,
    entities: [
      { name: 'customer', join_key: 'customer_id', value_type: 'STRING' },
      { name: 'merchant', join_key: 'merchant_id', value_type: 'STRING' },
      { name: 'driver', join_key: 'driver_id', value_type: 'INT64' },
    ],
    feature_views: [
      {
        name: 'customer_stats',
        entities: ['customer'],
        ttl: '2d',
        features: [
          { name: 'txn_count_1h', dtype: 'INT64' },
          { name: 'avg_amount_30d', dtype: 'DOUBLE' },
          { name: 'tags', dtype: 'STRING_LIST' },
        ],
        source: { path: 'data/customer_stats.csv', created_timestamp_column: 'created' },
        push_source: 'customer_push',
      },
      {
        name: 'merchant_risk',
        entities: ['merchant'],
        ttl: '1h',
        features: [{ name: 'fraud_rate', dtype: 'DOUBLE' }],
        source: { path: 'data/merchant_risk.csv' },
      },
      { name: 'driver_stats', entities: ['driver'], ttl: 0, features: [{ name: 'trips', dtype: 'INT64' }] },
    ],
    feature_services: [{ name: 'fraud_features', features: ['customer_stats', 'merchant_risk'] }],
  };
}

/** Batch source rows of the test repository (event times in 2024, far outside every TTL unless stamped). */
export const TEST_CSV = {
  'data/customer_stats.csv': [
    'customer_id,txn_count_1h,avg_amount_30d,tags,event_timestamp,created',
    'c1,3,42.5,"[""new"",""web""]",2024-01-01T00:00:00Z,2024-01-01T00:00:01Z',
    'c2,0,7.25,[],2024-01-01T00:00:00Z,2024-01-01T00:00:01Z',
  ].join('\n'),
  'data/merchant_risk.csv': ['merchant_id,fraud_rate,event_timestamp', 'm1,0.125,2024-01-01T00:00:00Z'].join(
    '\n',
  ),
};

/** A feature repository in a temporary directory; `remove()` deletes it. */
export interface TestRepo {
  readonly dir: string;
  readonly project: string;
  /** Rewrites registry.db from a definition (as `registry build` would after an edit). */
  writeRegistry(definition: RepoDefinitionInput): void;
  remove(): void;
}

/**
 * Writes feature_store.yaml (with `onlineStore` as its `online_store:` block, SQLite in the repo by default),
 * registry.db built from `definition`, and the CSV batch sources.
 */
export function createTestRepo(options: {
  project: string;
  definition?: RepoDefinitionInput;
  onlineStore?: string;
  csv?: Record<string, string>;
}): TestRepo {
  const dir = mkdtempSync(path.join(tmpdir(), 'regatta-features-'));
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const store = options.onlineStore ?? 'type: sqlite\n  path: data/online_store.db';
  writeFileSync(
    path.join(dir, 'feature_store.yaml'),
    `project: ${options.project}\nregistry: data/registry.db\nprovider: local\nonline_store:\n  ${store}\n` +
      'entity_key_serialization_version: 3\n',
  );
  const writeRegistry = (definition: RepoDefinitionInput) =>
    writeFileSync(path.join(dir, 'data/registry.db'), encodeRegistry(definitionToRegistry(definition)));
  writeRegistry(options.definition ?? testDefinition(options.project));
  for (const [file, text] of Object.entries(options.csv ?? TEST_CSV))
    writeFileSync(path.join(dir, file), `${text}\n`);
  return {
    dir,
    project: options.project,
    writeRegistry,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
