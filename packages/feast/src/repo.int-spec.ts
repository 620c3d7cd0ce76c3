import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configureLogging } from '@regatta/telemetry';
import { runCli, type CliIo } from './cli.js';
import { decodeRegistry } from './registry/codec.js';
import { loadDefinitionFile } from './registry/definition.js';
import { FeatureRepo } from './repo.js';

// Load failures are logged as warnings by design; the tests assert them through health() instead.
configureLogging({ level: 'silent' });

const DEMO_REPO = path.resolve(import.meta.dirname, '../../../apps/features/feature_repo');
const CUSTOMER_FEATURES = [
  'txn_count_1h',
  'txn_count_24h',
  'avg_amount_30d',
  'amount_std_30d',
  'account_age_days',
  'chargeback_count_90d',
  'distinct_merchants_24h',
];
const MERCHANT_FEATURES = ['merchant_fraud_rate_90d', 'merchant_avg_amount', 'merchant_category_risk'];

let dir: string;

function captureIo(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (t) => lines.push(t), err: (t) => errors.push(t) };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'regatta-demo-repo-'));
  await cp(DEMO_REPO, dir, { recursive: true, filter: (src) => !src.includes('online_store.db') });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the demo feature repository', () => {
  it('commits a registry.db that matches its definition file', async () => {
    const definition = await loadDefinitionFile(path.join(DEMO_REPO, 'feature_definitions.yaml'));
    const {
      lastUpdatedMs: _,
      onDemandFeatureViews: __,
      ...committed
    } = decodeRegistry(await readFile(path.join(DEMO_REPO, 'data/registry.db')), 'regatta_demo');
    expect(committed).toEqual(definition);
    expect(definition.featureViews.map((v) => [v.name, v.features.map((f) => f.name), v.ttlSeconds])).toEqual(
      [
        ['customer_stats', CUSTOMER_FEATURES, 2 * 86400],
        ['merchant_risk', MERCHANT_FEATURES, 7 * 86400],
      ],
    );
  });

  it('materializes with the CLI and serves fraud_features from SQLite', async () => {
    const io = captureIo();
    expect(await runCli(['materialize', dir, '--stamp-now'], io)).toBe(0);
    expect(io.lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { feature_view: 'customer_stats', rows: 1000, written: 1000, skipped: 0 },
      { feature_view: 'merchant_risk', rows: 200, written: 200, skipped: 0 },
    ]);

    const repo = await FeatureRepo.open(dir);
    try {
      expect(await repo.health()).toMatchObject({
        registry: { status: 'ok' },
        online_store: { status: 'ok' },
      });
      const response = await repo.reader.getOnlineFeatures({
        feature_service: 'fraud_features',
        entities: { customer_id: ['c0001', 'c1000', 'c9999'], merchant_id: ['m001', 'm200', 'm001'] },
      });
      expect(response.metadata.feature_names).toEqual([
        'customer_id',
        'merchant_id',
        ...CUSTOMER_FEATURES,
        ...MERCHANT_FEATURES,
      ]);
      for (const column of response.results.slice(2)) {
        expect(column.statuses.slice(0, 2)).toEqual(['PRESENT', 'PRESENT']);
        expect(column.values.slice(0, 2).every((v) => typeof v === 'number')).toBe(true);
      }
      expect(response.results[2]!.statuses[2]).toBe('NOT_FOUND');
    } finally {
      await repo.close();
    }
  });

  it('loads a single file into a view, and skips rows older than what is stored', async () => {
    const io = captureIo();
    const file = path.join(dir, 'data/merchant_risk.csv');
    expect(await runCli(['materialize', dir, file, '--view', 'merchant_risk'], io)).toBe(0);
    expect(JSON.parse(io.lines[0]!)).toEqual({
      feature_view: 'merchant_risk',
      rows: 200,
      written: 0,
      skipped: 200,
    });
  });
});

describe('regatta-feast registry build', () => {
  it('writes a registry from a JSON definition and reports bad definitions', async () => {
    const definition = path.join(dir, 'def.json');
    await writeFile(
      definition,
      JSON.stringify({
        project: 'p',
        entities: [{ name: 'driver', join_key: 'driver_id', value_type: 'INT64' }],
        feature_views: [
          {
            name: 'driver_stats',
            entities: ['driver'],
            ttl: '1h',
            features: [{ name: 'trips', dtype: 'INT64' }],
          },
        ],
      }),
    );
    const out = path.join(dir, 'out', 'registry.db');
    const io = captureIo();
    expect(await runCli(['registry', 'build', definition, out], io)).toBe(0);
    const content = decodeRegistry(await readFile(out), 'p');
    expect(content.featureViews[0]).toMatchObject({ name: 'driver_stats', ttlSeconds: 3600 });

    await writeFile(
      definition,
      JSON.stringify({
        project: 'p',
        feature_views: [{ name: 'v', entities: ['ghost'], features: [{ name: 'f', dtype: 'INT64' }] }],
      }),
    );
    const bad = captureIo();
    expect(await runCli(['registry', 'build', definition, out], bad)).toBe(1);
    expect(bad.errors).toEqual([
      'INVALID_ARGUMENT: repository definition: feature view v uses unknown entity ghost',
    ]);
  });

  it('shows a repository registry without opening its online store', async () => {
    const fresh = await mkdtemp(path.join(tmpdir(), 'regatta-show-'));
    try {
      await cp(DEMO_REPO, fresh, { recursive: true, filter: (src) => !src.includes('online_store.db') });
      const io = captureIo();
      expect(await runCli(['registry', 'show', fresh], io)).toBe(0);
      expect(JSON.parse(io.lines[0]!)).toMatchObject({
        project: 'regatta_demo',
        featureServices: [{ name: 'fraud_features' }],
      });
      await expect(readFile(path.join(fresh, 'data/online_store.db'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('prints usage for unknown commands', async () => {
    const io = captureIo();
    expect(await runCli(['frobnicate'], io)).toBe(2);
    expect(io.errors[0]).toMatch(/unknown command frobnicate\nusage:/);
  });
});
