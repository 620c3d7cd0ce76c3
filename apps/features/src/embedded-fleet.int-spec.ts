import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type GetFeaturesReply } from '@regatta/contracts';
import { freePort } from '@regatta/testing';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const ADMIN_KEY = 'rg_features_embedded_key_0123456789abcdef';

interface EmbeddedFleet {
  readonly url: string;
  stop(): Promise<void>;
}

// The fleet package depends on this one, so it is loaded by name at run time rather than declared as a
// dependency (jest resolves workspace packages to their sources).
async function startEmbeddedFleet(env: NodeJS.ProcessEnv, port: number): Promise<EmbeddedFleet> {
  const name = '@regatta/fleet';
  const fleet = (await import(name)) as {
    startEmbeddedFleet(env: NodeJS.ProcessEnv, port?: number): Promise<EmbeddedFleet>;
  };
  return fleet.startEmbeddedFleet(env, port);
}

describe('the embedded fleet serves the demo features', () => {
  const cwd = process.cwd();
  let dataDir: string;
  let fleet: EmbeddedFleet;
  let feastUrl: string;

  beforeAll(async () => {
    // The fleet's defaults (models, feature repository, data directory) are relative to the repository root.
    process.chdir(ROOT);
    dataDir = mkdtempSync(path.join(tmpdir(), 'regatta-embedded-'));
    const feastPort = await freePort();
    fleet = await startEmbeddedFleet(
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ENVIRONMENT: 'test',
        LOG_LEVEL: 'warn',
        REGATTA_DATA_DIR: dataDir,
        REGATTA_ADMIN_KEY: ADMIN_KEY,
        ADMIN_PORT: '0',
        INFERENCE_WORKERS: '1',
        // The demo store goes to the data directory, not into the committed repository.
        FEATURES_ONLINE_STORE: 'sqlite',
        FEAST_HTTP_PORT: String(feastPort),
        FEAST_HTTP_HOST: '127.0.0.1',
      },
      await freePort(),
    );
    feastUrl = `http://127.0.0.1:${feastPort}`;
  }, 180_000);

  afterAll(async () => {
    await fleet?.stop();
    process.chdir(cwd);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const demoRequest = {
    feature_service: 'fraud_features',
    entities: { customer_id: ['c0001', 'c9999'], merchant_id: ['m001', 'm001'] },
  };

  it('answers POST /v1/features on the gateway with the demo rows, fresh after the first-start load', async () => {
    const res = await fetch(`${fleet.url}/v1/features`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(demoRequest),
    });
    expect(res.status).toBe(200);
    const reply = (await res.json()) as GetFeaturesReply;
    expect(reply.metadata.feature_names).toEqual([
      'customer_id',
      'merchant_id',
      'txn_count_1h',
      'txn_count_24h',
      'avg_amount_30d',
      'amount_std_30d',
      'account_age_days',
      'chargeback_count_90d',
      'distinct_merchants_24h',
      'merchant_fraud_rate_90d',
      'merchant_avg_amount',
      'merchant_category_risk',
    ]);
    // c0001 / m001 as in data/*.csv; c9999 is not a demo customer.
    expect(reply.results.slice(2).map((c) => c.values[0])).toEqual([
      0, 5, 11.24, 4.5, 3205, 0, 1, 0.00359, 42.23, 0.05,
    ]);
    expect(reply.results.slice(2, 9).map((c) => c.statuses)).toEqual(Array(7).fill(['PRESENT', 'NOT_FOUND']));
    expect(reply.results.slice(9).map((c) => c.statuses)).toEqual(Array(3).fill(['PRESENT', 'PRESENT']));
  });

  it("answers Feast's POST /get-online-features on its own port with the same values", async () => {
    const res = await fetch(`${feastUrl}/get-online-features`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        features: ['merchant_risk:merchant_category_risk'],
        entities: { merchant_id: ['m001'] },
      }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      metadata: { feature_names: ['merchant_id', 'merchant_category_risk'] },
      results: [{ values: ['m001'] }, { values: [0.05], statuses: ['PRESENT'] }],
    });
  });
});
