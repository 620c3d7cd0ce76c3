import { parseRegistry, encodeRegistry } from '../registry/codec.js';
import { definitionToRegistry, type RepoDefinitionInput } from '../registry/definition.js';
import type { FeastRegistry } from '../registry/model.js';
import type { OnlineReadRequest } from '../stores/online-store.js';
import { entityKeyV3 } from './feast-layout.js';

/** A fraud-style repository definition used across tests. */
export const FRAUD_DEFINITION: RepoDefinitionInput = {
  project: 'fraud_test',
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
      ttl: '7d',
      features: [
        { name: 'merchant_fraud_rate_90d', dtype: 'DOUBLE' },
        { name: 'avg_amount_30d', dtype: 'DOUBLE' },
      ],
    },
    { name: 'driver_stats', entities: ['driver'], ttl: 0, features: [{ name: 'trips', dtype: 'INT64' }] },
    { name: 'global_stats', features: [{ name: 'fraud_rate_1h', dtype: 'DOUBLE' }] },
    {
      name: 'offline_only',
      entities: ['customer'],
      online: false,
      features: [{ name: 'x', dtype: 'INT64' }],
    },
  ],
  feature_services: [
    { name: 'fraud_features', features: ['customer_stats', 'merchant_risk'] },
    {
      name: 'payer_features',
      features: [
        {
          view: 'customer_stats',
          features: ['txn_count_1h'],
          alias: 'payer',
          join_key_map: { customer_id: 'payer_id' },
        },
      ],
    },
  ],
};

/** The fixture definition as a parsed registry (through the real encoder and decoder). */
export function fraudRegistry(): FeastRegistry {
  return parseRegistry(encodeRegistry(definitionToRegistry(FRAUD_DEFINITION)), 'fraud_test');
}

/** A RegistrySource that always serves `registry`. */
export const fixedRegistry = (registry: FeastRegistry) => ({ current: () => registry });

/** The smallest store read: feature txn_count_1h of customer c1 in customer_stats. */
export const customerStatsRead = (): OnlineReadRequest[] => [
  { view: 'customer_stats', entityKey: entityKeyV3({ customer_id: 'c1' }), features: ['txn_count_1h'] },
];
