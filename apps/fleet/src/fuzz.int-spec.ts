import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, prng } from '@regatta/testing';
import { type EmbeddedFleet, startEmbeddedFleet } from './embedded.js';
import { DEMO_TRANSACTION } from './testing/demo.js';
import { type Json, RENAMES, forEachConcurrently, mutated, render } from './testing/json-fuzz.js';

/**
 * Structure-aware fuzzing of every public route that takes a body, on the real services (the embedded
 * fleet: gateway, inference with the demo model, features on SQLite, llm-proxy, all in one process).
 * Each case is a valid request with one to three mutations (a value swapped for a hostile one, a key
 * dropped or added, an array emptied or blown up, a name changed, the JSON cut short). Whatever comes
 * in, the answer is a 2xx or a 4xx with a body that says what was wrong: never a 5xx, never a hang.
 * Afterwards every valid request still works. Replay a failure with FUZZ_SEED.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const ADMIN_KEY = 'rg_fuzz_test_admin_key_0123456789abcdefg';
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_128);
const CASES_PER_SEED = Number(process.env.FUZZ_CASES ?? 250);
const CONCURRENCY = 8;

interface Seed {
  name: string;
  server: 'gateway' | 'feast';
  path: string;
  body: Json;
}

const SEEDS: Seed[] = [
  {
    name: 'decision',
    server: 'gateway',
    path: '/v1/decisions',
    body: {
      flow: 'fraud',
      entities: { customer_id: 'c0001', merchant_id: 'm001' },
      context: { amount: 950, hour_of_day: 3, is_online: true, country_mismatch: true, new_device: true },
      explain: true,
    },
  },
  { name: 'predict rows', server: 'gateway', path: '/v1/predict/fraud', body: { rows: [DEMO_TRANSACTION] } },
  {
    name: 'predict named',
    server: 'gateway',
    path: '/v1/predict/fraud',
    body: {
      rows: [
        {
          amount: 12.5,
          hour_of_day: 9,
          is_online: 0,
          country_mismatch: 0,
          new_device: 0,
          txn_count_1h: 1,
          txn_count_24h: 4,
          avg_amount_30d: 40,
          amount_std_30d: 9,
          account_age_days: 900,
          chargeback_count_90d: 0,
          distinct_merchants_24h: 2,
          merchant_fraud_rate_90d: 0.01,
          merchant_avg_amount: 30,
          merchant_category_risk: 0.2,
        },
      ],
      version: 1,
    },
  },
  {
    name: 'kserve infer',
    server: 'gateway',
    path: '/v2/models/fraud/infer',
    body: {
      id: 'fuzz',
      inputs: [
        {
          name: 'features',
          shape: [2, 15],
          datatype: 'FP32',
          data: [...DEMO_TRANSACTION, ...DEMO_TRANSACTION],
        },
      ],
    },
  },
  {
    name: 'features by service',
    server: 'gateway',
    path: '/v1/features',
    body: {
      feature_service: 'fraud_features',
      entities: { customer_id: ['c0001', 'c0002'], merchant_id: ['m001', 'm002'] },
    },
  },
  {
    name: 'features by refs',
    server: 'gateway',
    path: '/v1/features',
    body: {
      features: ['customer_stats:txn_count_1h', 'customer_stats:avg_amount_30d'],
      entities: { customer_id: ['c0001'] },
      full_feature_names: true,
    },
  },
  {
    name: 'chat',
    server: 'gateway',
    path: '/v1/chat/completions',
    body: { model: 'mock-gpt', messages: [{ role: 'user', content: 'hello' }], max_tokens: 16 },
  },
  {
    name: 'create key',
    server: 'gateway',
    path: '/v1/admin/keys',
    body: { tenant: 'fuzz', scopes: ['predict', 'features:read'] },
  },
  {
    name: 'feast get',
    server: 'feast',
    path: '/get-online-features',
    body: {
      features: ['customer_stats:txn_count_1h', 'merchant_risk:merchant_fraud_rate_90d'],
      entities: { customer_id: ['c0001', 'c0003'], merchant_id: ['m001', 'm003'] },
    },
  },
  {
    name: 'feast get service',
    server: 'feast',
    path: '/get-online-features',
    body: { feature_service: 'fraud_features', entities: { customer_id: ['c0001'], merchant_id: ['m001'] } },
  },
  {
    name: 'feast push',
    server: 'feast',
    path: '/push',
    body: {
      push_source_name: 'customer_stats_push',
      df: {
        customer_id: ['fuzz_c1'],
        txn_count_1h: [3],
        txn_count_24h: [9],
        avg_amount_30d: [42.5],
        amount_std_30d: [3.25],
        account_age_days: [100],
        chargeback_count_90d: [0],
        distinct_merchants_24h: [2],
        event_timestamp: ['2026-11-28T00:00:00Z'],
      },
      to: 'online',
    },
  },
  {
    name: 'feast write',
    server: 'feast',
    path: '/write-to-online-store',
    body: {
      feature_view_name: 'merchant_risk',
      df: {
        merchant_id: ['fuzz_m1'],
        merchant_fraud_rate_90d: [0.02],
        merchant_avg_amount: [50],
        merchant_category_risk: [0.4],
        event_timestamp: ['2026-11-28T00:00:00Z'],
      },
    },
  },
];

/**
 * Whether an error body says what was wrong: the gateway's `{error: {code, message}}`, the Open
 * Inference Protocol's `{error: "<message>"}` (the KServe v2 routes), Feast's
 * `{detail: ...}` for malformed bodies, or Feast's error detail (a JSON string holding
 * `{module, class, message}`, as Feast's Python server sends it).
 */
function saysWhatWasWrong(text: string): boolean {
  try {
    let parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'string') parsed = JSON.parse(parsed);
    const body = parsed as {
      error?: { code?: unknown; message?: unknown };
      detail?: unknown;
      message?: unknown;
    };
    const nonEmpty = (v: unknown) => typeof v === 'string' && v.length > 0;
    return (
      (nonEmpty(body.error?.code) && nonEmpty(body.error?.message)) ||
      nonEmpty(body.error) ||
      nonEmpty(body.message) ||
      (body.detail !== undefined && JSON.stringify(body.detail).length > 2)
    );
  } catch {
    return false;
  }
}

interface Outcome {
  seed: string;
  status: number;
  body: string;
  sent: string;
}

describe('fuzzing the routes of the running fleet', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'regatta-fuzz-'));
  const cwd = process.cwd();
  let fleet: EmbeddedFleet;
  let feastUrl: string;

  beforeAll(async () => {
    // The fleet's defaults (models, feature repository) are relative to the repository root.
    process.chdir(ROOT);
    const feastPort = await freePort();
    fleet = await startEmbeddedFleet(
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ENVIRONMENT: 'test',
        LOG_LEVEL: 'error',
        REGATTA_DATA_DIR: dataDir,
        REGATTA_ADMIN_KEY: ADMIN_KEY,
        INFERENCE_WORKERS: '1',
        // The demo store goes to the data directory, not into the committed repository.
        FEATURES_ONLINE_STORE: 'sqlite',
        FEAST_HTTP_PORT: String(feastPort),
        FEAST_HTTP_HOST: '127.0.0.1',
        RATE_LIMIT_PER_S: '100000',
        RATE_LIMIT_BURST: '100000',
      },
      0,
    );
    feastUrl = `http://127.0.0.1:${feastPort}`;
  }, 180_000);

  afterAll(async () => {
    await fleet?.stop();
    process.chdir(cwd);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const url = (seed: Seed) => `${seed.server === 'gateway' ? fleet.url : feastUrl}${seed.path}`;

  async function send(
    seed: Seed,
    text: string,
    contentType: string,
  ): Promise<{ status: number; body: string }> {
    const res = await fetch(url(seed), {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': contentType },
      body: text,
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, body: await res.text() };
  }

  /** The seeds a request fails for, with what came back. */
  async function failingSeeds(): Promise<Array<{ seed: string; status: number; body: string }>> {
    const failing = [];
    for (const seed of SEEDS) {
      const res = await send(seed, JSON.stringify(seed.body), 'application/json');
      if (res.status >= 300)
        failing.push({ seed: seed.name, status: res.status, body: res.body.slice(0, 300) });
    }
    return failing;
  }

  it('accepts every seed request as it is', async () => {
    expect(await failingSeeds()).toEqual([]);
  }, 60_000);

  it('answers mutated requests with a 2xx or a 4xx that says what was wrong, never a 5xx', async () => {
    const rng = prng(SEED);
    const cases: Array<{ seed: Seed; text: string; contentType: string }> = [];
    for (const seed of SEEDS) {
      for (let i = 0; i < CASES_PER_SEED; i++) {
        cases.push({ seed, ...render(rng, mutated(rng, seed.body)) });
      }
    }
    const bad: Outcome[] = [];
    const statuses = new Map<number, number>();
    await forEachConcurrently(cases, CONCURRENCY, async (c) => {
      const res = await send(c.seed, c.text, c.contentType);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const explained = res.status < 300 || saysWhatWasWrong(res.body);
      if (res.status >= 500 || !explained)
        bad.push({
          seed: c.seed.name,
          status: res.status,
          body: res.body.slice(0, 300),
          sent: c.text.slice(0, 300),
        });
    });
    // Most cases must be refused, or the mutations are not reaching the checks.
    const refused = [...statuses].filter(([s]) => s >= 400).reduce((n, [, k]) => n + k, 0);
    expect(refused).toBeGreaterThan(cases.length / 3);
    expect(bad).toEqual([]);
  }, 600_000);

  it('answers odd names in paths with a 4xx that says what was wrong', async () => {
    const rng = prng(SEED + 1);
    const names = [
      ...RENAMES,
      '0',
      '-1',
      '1.5',
      '99999999999999999999',
      '%00',
      '%ZZ',
      '..%2F..',
      'fraud%20',
      'x'.repeat(2_000),
    ];
    const routes: Array<[string, (name: string) => string]> = [
      ['GET', (n) => `/v2/models/${n}`],
      ['GET', (n) => `/v2/models/fraud/versions/${n}`],
      ['GET', (n) => `/v2/models/${n}/ready`],
      ['POST', (n) => `/v2/models/fraud/versions/${n}/infer`],
      ['POST', (n) => `/v1/predict/${n}`],
      ['GET', (n) => `/v1/decisions/${n}`],
      ['GET', (n) => `/v1/admin/keys/${n}`],
      ['DELETE', (n) => `/v1/admin/keys/${n}`],
      ['GET', (n) => `/v1/fleet/${n}`],
    ];
    const bad: Outcome[] = [];
    for (let i = 0; i < 300; i++) {
      const [method, route] = rng.pick(routes);
      const name = rng.pick(names);
      const target = route(name.startsWith('%') || name.includes('%2F') ? name : encodeURIComponent(name));
      const res = await fetch(`${fleet.url}${target}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        ...(method === 'POST' && { body: JSON.stringify(SEEDS[3]!.body) }),
        signal: AbortSignal.timeout(15_000),
      });
      const body = await res.text();
      if (res.status >= 500 || (res.status >= 300 && !saysWhatWasWrong(body)))
        bad.push({
          seed: `${method} ${target.slice(0, 120)}`,
          status: res.status,
          body: body.slice(0, 300),
          sent: '',
        });
    }
    expect(bad).toEqual([]);
  }, 120_000);

  it('still serves every seed request afterwards, and reports itself ready', async () => {
    expect(await failingSeeds()).toEqual([]);
    // The fleet runs in this process: no body reached Object.prototype.
    expect(Object.prototype).not.toHaveProperty('polluted');
    const ready = await fetch(`${fleet.url}/ready`);
    expect(ready.status).toBe(200);
  }, 60_000);
});
