import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EmbeddedFleet, startEmbeddedFleet } from '@regatta/fleet';
import { RegattaClient } from './client.js';
import { RegattaApiError } from './errors.js';

const ADMIN_KEY = 'rg_client_test_admin_key_0123456789abcdef';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function failure(p: Promise<unknown>): Promise<RegattaApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RegattaApiError);
    return err as RegattaApiError;
  }
  throw new Error('expected a failure');
}

const CUSTOMER = 'c0001';

describe('RegattaClient against the embedded fleet', () => {
  let fleet: EmbeddedFleet;
  let dataDir: string;
  let acme: RegattaClient;
  let anonymous: RegattaClient;

  beforeAll(async () => {
    // The fleet finds its models, feature repository and flows relative to the repository root.
    process.chdir(root);
    dataDir = mkdtempSync(path.join(tmpdir(), 'regatta-client-'));
    fleet = await startEmbeddedFleet(
      {
        ENVIRONMENT: 'test',
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        REGATTA_ADMIN_KEY: ADMIN_KEY,
        REGATTA_DATA_DIR: dataDir,
        FEAST_HTTP_PORT: '0',
        INFERENCE_WORKERS: '1',
      },
      0,
    );
    const admin = new RegattaClient({ baseUrl: fleet.url, apiKey: ADMIN_KEY });
    const scopes = ['decisions:write', 'decisions:read', 'predict', 'features:read', 'chat'];
    const keyOf = async (tenant: string) =>
      (await admin.call<{ key: string }>('POST', '/v1/admin/keys', { tenant, scopes, name: 'client test' }))
        .key;
    acme = new RegattaClient({ baseUrl: fleet.url, apiKey: await keyOf('acme'), timeoutMs: 5_000 });
    anonymous = new RegattaClient({ baseUrl: fleet.url });
  }, 120_000);

  afterAll(async () => {
    await fleet?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('health', async () => {
    expect(await anonymous.health()).toMatchObject({ status: 'ok', service: 'gateway' });
  });

  it('reports a missing key as a typed UNAUTHENTICATED error with the request id', async () => {
    const err = await failure(anonymous.predict('fraud', { rows: [[1]] }, { requestId: 'client-int-1' }));
    expect(err).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, requestId: 'client-int-1' });
  });

  it('reports a bad body as INVALID_ARGUMENT naming the field', async () => {
    const err = await failure(acme.call('POST', '/v1/predict/fraud', { rows: [[1]], colour: 'red' }));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', status: 400 });
    expect(err.message).toContain('colour');
  });

  it('decide and getDecision, and another tenant cannot read the decision', async () => {
    const decision = await acme.decide({
      flow: 'fraud',
      entities: { customer_id: 'c0002', merchant_id: 'm002' },
      context: { amount: 120, hour_of_day: 14 },
    });
    expect(['approve', 'review', 'decline']).toContain(decision.outcome);
    expect(decision.model).toBe('fraud');
    const stored = await acme.getDecision(decision.decision_id);
    expect(stored).toMatchObject({
      decision_id: decision.decision_id,
      outcome: decision.outcome,
      score: decision.score,
    });
    const admin = new RegattaClient({ baseUrl: fleet.url, apiKey: ADMIN_KEY });
    const other = await admin.call<{ key: string }>('POST', '/v1/admin/keys', {
      tenant: 'globex',
      scopes: ['decisions:read'],
    });
    const globex = new RegattaClient({ baseUrl: fleet.url, apiKey: other.key });
    await expect(globex.getDecision(decision.decision_id)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      status: 404,
    });
  });

  it('predict', async () => {
    const reply = await acme.predict('fraud', { rows: [Array.from({ length: 15 }, () => 1)] });
    expect(reply.model).toBe('fraud');
    expect(reply.outputs.score).toHaveLength(1);
  });

  it('features', async () => {
    const reply = await acme.features({
      features: ['customer_stats:txn_count_24h'],
      entities: { customer_id: [CUSTOMER] },
    });
    expect(reply.metadata.feature_names).toContain('txn_count_24h');
    expect(reply.results.length).toBeGreaterThan(0);
  });

  it('chat', async () => {
    const completion = await acme.chat({ model: 'mock-gpt', messages: [{ role: 'user', content: 'hello' }] });
    expect(completion.choices.length).toBeGreaterThan(0);
  });

  it('chatStream', async () => {
    const chunks = [];
    for await (const chunk of acme.chatStream({
      model: 'mock-gpt',
      messages: [{ role: 'user', content: 'stream please' }],
    }))
      chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1);
  });

  it('reports a scope the key lacks as PERMISSION_DENIED', async () => {
    const admin = new RegattaClient({ baseUrl: fleet.url, apiKey: ADMIN_KEY });
    const { key } = await admin.call<{ key: string }>('POST', '/v1/admin/keys', {
      tenant: 'acme',
      scopes: ['predict'],
    });
    const limited = new RegattaClient({ baseUrl: fleet.url, apiKey: key });
    const err = await failure(
      limited.chat({ model: 'mock-gpt', messages: [{ role: 'user', content: 'x' }] }),
    );
    expect(err).toMatchObject({ code: 'PERMISSION_DENIED', status: 403 });
  });
});
