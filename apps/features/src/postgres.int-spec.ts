import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '@regatta/config';
import { FEATURES } from '@regatta/contracts';
import { type SqlClient, createPostgresClient } from '@regatta/db';
import { serializeEntityKey } from '@regatta/feast';
import { serviceUrls, uniqueName } from '@regatta/testing';
import { InProcessBus, RpcClient } from '@regatta/transport';
import { featuresEnv } from './config.js';
import { type RunningFeatures, createFeaturesService } from './service.js';
import { type TestRepo, createTestRepo } from './testing/test-repo.js';

describe('features service on a Postgres online store', () => {
  const { database } = serviceUrls();
  const schema = uniqueName('feat_pg');
  let sql: SqlClient;
  let bus: InProcessBus;
  let rpc: RpcClient;
  let testRepo: TestRepo;
  let running: RunningFeatures;

  beforeAll(async () => {
    sql = createPostgresClient({ url: database, max: 1, applicationName: 'features-int-spec' });
    bus = new InProcessBus();
    rpc = new RpcClient({ bus, defaultTimeoutMs: 10_000 });
    testRepo = createTestRepo({ project: 'pg_demo' });
    running = await createFeaturesService({
      bus,
      config: loadConfig(featuresEnv, {
        FEAST_REPO_PATH: testRepo.dir,
        FEATURES_ONLINE_STORE: 'postgres',
        DATABASE_URL: database,
        FEATURES_PG_SCHEMA: schema,
        FEAST_HTTP_PORT: '0',
        LOG_LEVEL: 'warn',
      }),
    });
  });

  afterAll(async () => {
    await running?.close();
    await bus?.close();
    await sql?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql?.close();
    testRepo?.remove();
  });

  it("materializes into Feast's <project>_<view> tables and serves them over features.get.v1", async () => {
    const { rows } = await sql.query<{ feature_name: string; value: Buffer }>(
      `SELECT feature_name, value FROM "${schema}"."pg_demo_customer_stats" WHERE entity_key = $1 ORDER BY feature_name`,
      [serializeEntityKey(['customer_id'], [{ kind: 'string', value: 'c1' }], 3)],
    );
    expect(rows.map((r) => [r.feature_name, r.value.toString('hex')])).toEqual([
      ['avg_amount_30d', '290000000000404540'], // double_val 42.5
      ['tags', '620a0a036e65770a03776562'], // string_list_val ["new", "web"]
      ['txn_count_1h', '2003'], // int64_val 3
    ]);

    const reply = await rpc.request(FEATURES.get, {
      feature_service: 'fraud_features',
      entities: { customer_id: ['c2', 'c3'], merchant_id: ['m1', 'm1'] },
    });
    expect(reply.results.slice(2).map((c) => [c.values, c.statuses])).toEqual([
      [
        [0, null],
        ['PRESENT', 'NOT_FOUND'],
      ],
      [
        [7.25, null],
        ['PRESENT', 'NOT_FOUND'],
      ],
      [
        [[], null],
        ['PRESENT', 'NOT_FOUND'],
      ],
      [
        [0.125, 0.125],
        ['PRESENT', 'PRESENT'],
      ],
    ]);
  });

  it('takes pushes that the next read sees', async () => {
    await running.features.push(
      'customer_push',
      {
        customer_id: ['c3'],
        txn_count_1h: [4],
        avg_amount_30d: [2],
        tags: [['pg']],
        event_timestamp: [new Date().toISOString()],
      },
      'online',
    );
    const reply = await rpc.request(FEATURES.get, {
      features: ['customer_stats:tags'],
      entities: { customer_id: ['c3'] },
    });
    expect(reply.results[1]).toMatchObject({ values: [['pg']], statuses: ['PRESENT'] });
  });
});
