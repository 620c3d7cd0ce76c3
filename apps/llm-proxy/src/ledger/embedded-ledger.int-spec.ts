import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LLM } from '@regatta/contracts';
import { openPglite } from '@regatta/db';
import { FakeOpenAi } from '../testing/fake-openai.js';
import { fakeRouting, startTestProxy, testConfig } from '../testing/harness.js';

// Embedded mode: no DATABASE_URL, so the ledger is PGlite in REGATTA_DATA_DIR, run on its own thread.
describe('the embedded usage ledger', () => {
  let fake: FakeOpenAi;
  let dir: string;

  beforeAll(async () => {
    fake = await FakeOpenAi.start();
    dir = mkdtempSync(path.join(tmpdir(), 'llm-embedded-ledger-'));
  });
  afterAll(async () => {
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores one row per answer in the data directory, kept after the proxy stops', async () => {
    const t = await startTestProxy(testConfig(fakeRouting(fake.url), { REGATTA_DATA_DIR: dir }), {
      ledger: undefined,
    });
    const body = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'kept' }],
      temperature: 0,
    };
    const headers = (id: string) => ({ headers: { 'x-request-id': id } });
    expect((await t.client.request(LLM.chat, { body }, headers('embedded-1'))).meta.cache).toBe('MISS');
    expect((await t.client.request(LLM.chat, { body }, headers('embedded-2'))).meta.cache).toBe('HIT');
    await t.proxy.chat.drain();
    await t.proxy.ledger!.flush(10_000);
    await t.close();

    const db = await openPglite({ dataDir: path.join(dir, 'llm-proxy', 'pglite') });
    try {
      const { rows } = await db.query<{ request_id: string; cache_status: string; cost_avoided_usd: string }>(
        'SELECT request_id, cache_status, cost_avoided_usd FROM llm_usage ORDER BY request_id',
      );
      expect(rows.map((r) => [r.request_id, r.cache_status])).toEqual([
        ['embedded-1', 'MISS'],
        ['embedded-2', 'HIT'],
      ]);
      expect(Number(rows[1]!.cost_avoided_usd)).toBeGreaterThan(0);
    } finally {
      await db.close();
    }
  }, 60_000);
});
