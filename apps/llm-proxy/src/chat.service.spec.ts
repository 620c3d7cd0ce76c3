import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '@regatta/testing';
import {
  type ChatCompletionRequest,
  LLM,
  type LlmChatFrame,
  type LlmChatReply,
  RegattaError,
} from '@regatta/contracts';
import { worstCaseUsd } from './cost/limits.js';
import { loadPriceTable } from './cost/price-table.js';
import { FakeOpenAi } from './testing/fake-openai.js';
import { MemoryLedger, type TestProxy, fakeRouting, startTestProxy, testConfig } from './testing/harness.js';

let fake: FakeOpenAi;
let t: TestProxy;
let ledger: MemoryLedger;

beforeAll(async () => {
  fake = await FakeOpenAi.start();
});
afterAll(async () => {
  await fake.close();
});
afterEach(async () => {
  await t?.close();
  Object.assign(fake, {
    calls: 0,
    aborted: 0,
    latencyMs: 0,
    chunkDelayMs: 0,
    sendUsage: true,
    truncate: false,
    failWith: [],
  });
  fake.bodies.length = 0;
});

async function start(env: Record<string, string> = {}) {
  ledger = new MemoryLedger();
  t = await startTestProxy(testConfig(fakeRouting(fake.url), env), { ledger });
}

const ask = (content: string, extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content }],
  temperature: 0,
  ...extra,
});

async function stream(body: ChatCompletionRequest, headers: Record<string, string> = {}) {
  const frames: LlmChatFrame[] = [];
  for await (const frame of t.client.stream(LLM.chat, { body }, { headers }))
    frames.push(frame as LlmChatFrame);
  const meta = frames[0]?.type === 'meta' ? frames[0].meta : undefined;
  const chunks = frames.filter((f) => f.type === 'chunk').map((f) => f.chunk as Record<string, unknown>);
  const text = chunks
    .map((c) => (c.choices as { delta?: { content?: string } }[])[0]?.delta?.content ?? '')
    .join('');
  return { meta, chunks, text };
}

describe('llm.chat.v1', () => {
  describe('cache', () => {
    it('answers the second identical deterministic request from the cache', async () => {
      await start();
      const first = await t.client.request(LLM.chat, { body: ask('hello') });
      const second = await t.client.request(LLM.chat, { body: ask('hello', { user: 'someone-else' }) });
      expect([first.meta.cache, second.meta.cache]).toEqual(['MISS', 'HIT']);
      expect(second.completion).toEqual(first.completion);
      expect(fake.calls).toBe(1);
    });

    it('replays a cached stream chunk by chunk, usage included for callers who ask for it', async () => {
      await start();
      const body = ask('stream me', { stream_options: { include_usage: true } });
      const first = await stream(body);
      const second = await stream(body);
      expect([first.meta?.cache, second.meta?.cache]).toEqual(['MISS', 'HIT']);
      expect(second.chunks).toEqual(first.chunks);
      expect(second.chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 5 });
      expect(fake.calls).toBe(1);
    });

    it('neither caches nor coalesces a non-deterministic request unless the caller opts in', async () => {
      await start();
      const body = ask('creative', { temperature: 0.8 });
      const replies = await Promise.all([1, 2].map(() => t.client.request(LLM.chat, { body })));
      expect(replies.map((r) => r.meta.cache)).toEqual(['BYPASS', 'BYPASS']);
      await t.client.request(LLM.chat, { body });
      expect(fake.calls).toBe(3);
      await t.client.request(LLM.chat, { body: { ...body, cache: { enabled: true } } });
      const optedIn = await t.client.request(LLM.chat, { body: { ...body, cache: { enabled: true } } });
      expect(optedIn.meta.cache).toBe('HIT');
    });

    it('honours no-cache (fresh answer, stored) and no-store (answer not stored)', async () => {
      await start();
      await t.client.request(LLM.chat, { body: ask('q'), cache: { no_store: true } });
      expect(
        (await t.client.request(LLM.chat, { body: ask('q'), cache: { no_store: true } })).meta.cache,
      ).toBe('MISS');
      expect(
        (await t.client.request(LLM.chat, { body: ask('q'), cache: { no_cache: true } })).meta.cache,
      ).toBe('MISS');
      expect((await t.client.request(LLM.chat, { body: ask('q') })).meta.cache).toBe('HIT');
      expect(fake.calls).toBe(3);
    });

    it('never stores a stream the provider cut off', async () => {
      await start({ LLM_UPSTREAM_RETRIES: '0' });
      fake.truncate = true;
      fake.chunks = 4;
      await expect(stream(ask('cut'))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      fake.truncate = false;
      expect((await stream(ask('cut'))).meta?.cache).toBe('MISS');
      expect(fake.calls).toBe(2);
    });

    it('keeps tenants apart and clears one tenant only', async () => {
      await start();
      const as = (tenant: string) => ({ headers: { 'regatta-tenant': tenant } });
      await t.client.request(LLM.chat, { body: ask('shared?') }, as('a'));
      expect((await t.client.request(LLM.chat, { body: ask('shared?') }, as('b'))).meta.cache).toBe('MISS');
      expect(await t.client.request(LLM.clearCache, {}, as('a'))).toEqual({ deleted: 1 });
      expect((await t.client.request(LLM.chat, { body: ask('shared?') }, as('a'))).meta.cache).toBe('MISS');
      expect((await t.client.request(LLM.chat, { body: ask('shared?') }, as('b'))).meta.cache).toBe('HIT');
    });
  });

  describe('coalescing', () => {
    it('makes one upstream call for 20 identical concurrent requests, and all 20 get the answer', async () => {
      await start();
      fake.latencyMs = 100;
      const replies = await Promise.all(
        Array.from({ length: 20 }, () => t.client.request(LLM.chat, { body: ask('same') })),
      );
      expect(fake.calls).toBe(1);
      expect(new Set(replies.map((r) => JSON.stringify(r.completion))).size).toBe(1);
      expect(replies.filter((r) => r.meta.cache === 'MISS')).toHaveLength(1);
      expect(replies.filter((r) => r.meta.cache === 'COALESCED')).toHaveLength(19);
    });

    it('makes one upstream call for 10 identical concurrent streams; late joiners still get every chunk', async () => {
      await start();
      fake.latencyMs = 50;
      fake.chunkDelayMs = 20;
      const early = Array.from({ length: 5 }, () => stream(ask('same stream')));
      await new Promise((r) => setTimeout(r, 90));
      const late = Array.from({ length: 5 }, () => stream(ask('same stream')));
      const all = await Promise.all([...early, ...late]);
      expect(fake.calls).toBe(1);
      expect(new Set(all.map((s) => JSON.stringify(s.chunks))).size).toBe(1);
      expect(all[0]!.text).toBe('echo: same stream');
    });
  });

  describe('usage', () => {
    it('always asks the provider for stream usage and strips it from callers who did not ask', async () => {
      await start();
      const s = await stream(ask('u'));
      expect((fake.bodies[0]!.stream_options as { include_usage: boolean }).include_usage).toBe(true);
      expect(s.chunks.some((c) => 'usage' in c)).toBe(false);
      await eventually(() => ledger.rows.length === 1, 'ledger.rows.length === 1');
      expect(ledger.rows[0]).toMatchObject({
        prompt_tokens: 10,
        completion_tokens: 5,
        cached_tokens: 4,
        usage_estimated: false,
      });
      // 6 fresh prompt tokens at $0.15/M, 4 cached at $0.075/M, 5 completion at $0.60/M
      expect(ledger.rows[0]!.cost_usd).toBeCloseTo((6 * 0.15 + 4 * 0.075 + 5 * 0.6) / 1e6, 14);
    });

    it('estimates usage when the provider reports none, and marks it estimated', async () => {
      await start();
      fake.sendUsage = false;
      await stream(ask('estimate me'));
      await eventually(() => ledger.rows.length === 1, 'ledger.rows.length === 1');
      expect(ledger.rows[0]).toMatchObject({ usage_estimated: true, cache_status: 'MISS' });
      expect(ledger.rows[0]!.completion_tokens).toBeGreaterThan(0);
      expect(ledger.rows[0]!.cost_usd).toBeGreaterThan(0);
    });

    it('records one ledger row per request: the cost of a miss, the avoided cost of a hit', async () => {
      await start();
      await t.client.request(LLM.chat, { body: ask('ledger') }, { headers: { 'x-request-id': 'r-1' } });
      await t.client.request(LLM.chat, { body: ask('ledger') }, { headers: { 'x-request-id': 'r-2' } });
      await eventually(() => ledger.rows.length === 2, 'ledger.rows.length === 2');
      const [miss, hit] = ['r-1', 'r-2'].map((id) => ledger.rows.find((r) => r.request_id === id)!);
      expect(miss).toMatchObject({ cache_status: 'MISS', provider: 'fake', cost_avoided_usd: 0 });
      expect(hit).toMatchObject({
        cache_status: 'HIT',
        cost_usd: 0,
        cost_avoided_usd: miss!.cost_usd,
        provider: null,
      });
    });
  });

  describe('budgets and limits', () => {
    it('lets at most 10 of 100 concurrent requests reach the provider when the budget holds 10', async () => {
      const bodies = Array.from({ length: 100 }, (_, i) =>
        ask(`question ${String(i).padStart(3, '0')}`, { max_tokens: 100 }),
      );
      const price = loadPriceTable(testConfig(fakeRouting(fake.url)).LLM_PRICE_FILE).models.get(
        'gpt-4o-mini',
      )!;
      const worst = worstCaseUsd(bodies[0]!, price, 4096);
      await start({ LLM_TENANT_BUDGET_USD: String(worst * 10.5) });
      // Nothing settles (and releases its reservation) until every request has been let through or
      // refused: all 100 compete for the same 10.5 requests' worth of budget, however slow the machine.
      const release = fake.hold();
      let refusedSoFar = 0;
      const calls = bodies.map((body) => t.client.request(LLM.chat, { body }));
      for (const call of calls) call.catch(() => refusedSoFar++);
      await eventually(
        () => fake.calls + refusedSoFar === bodies.length,
        'fake.calls + refusedSoFar === bodies.length',
        20_000,
      );
      release();
      const results = await Promise.allSettled(calls);
      const refused: RegattaError[] = [];
      for (const r of results) if (r.status === 'rejected') refused.push(r.reason as RegattaError);
      expect(fake.calls).toBeLessThanOrEqual(10);
      expect(results.length - refused.length).toBe(fake.calls);
      expect(refused.every((e) => e.code === 'RESOURCE_EXHAUSTED' && e.details?.budget === 'tenant')).toBe(
        true,
      );
    });

    it('refuses past the tenant RPM with RESOURCE_EXHAUSTED and reports the window in the reply', async () => {
      await start({ LLM_TENANT_RPM: '2' });
      const first = await t.client.request(LLM.chat, { body: ask('a') });
      expect(first.meta.ratelimit.requests).toMatchObject({ limit: 2, remaining: 1 });
      await t.client.request(LLM.chat, { body: ask('b') });
      await expect(t.client.request(LLM.chat, { body: ask('c') })).rejects.toMatchObject({
        code: 'RESOURCE_EXHAUSTED',
      });
    });
  });

  describe('errors', () => {
    it('maps a provider 429 to RESOURCE_EXHAUSTED with its Retry-After', async () => {
      await start();
      fake.failWith = [429];
      fake.retryAfterS = 9;
      await expect(t.client.request(LLM.chat, { body: ask('limited') })).rejects.toMatchObject({
        code: 'RESOURCE_EXHAUSTED',
        retryAfterS: 9,
      });
      fake.retryAfterS = undefined;
    });

    it('retries a 503 and answers', async () => {
      await start();
      fake.failWith = [503, 503];
      const reply: LlmChatReply = await t.client.request(LLM.chat, { body: ask('flaky') });
      expect(reply.meta.provider).toBe('fake');
      expect(fake.calls).toBe(3);
    });

    it('refuses an unknown model with NOT_FOUND naming the known ones, and never sends it to the mock', async () => {
      await start();
      const err = (await t.client
        .request(LLM.chat, { body: ask('x', { model: 'gpt-5-ultra' }) })
        .catch((e: unknown) => e)) as RegattaError;
      expect(err.code).toBe('NOT_FOUND');
      expect(err.message).toContain('mock-gpt');
    });
  });

  describe('llm.cancel.v1', () => {
    it('stops the upstream call when the only caller of a stream goes away', async () => {
      await start();
      fake.chunkDelayMs = 200;
      fake.chunks = 10;
      const abort = new AbortController();
      const frames = t.client.stream(
        LLM.chat,
        { body: ask('long story') },
        { headers: { 'x-request-id': 'gone-1' }, signal: abort.signal },
      );
      await frames.next();
      abort.abort();
      await frames.return(undefined);
      await expect(t.client.request(LLM.cancel, { request_id: 'gone-1' })).resolves.toEqual({
        cancelled: true,
      });
      await eventually(() => fake.aborted === 1, 'fake.aborted === 1');
      await eventually(() => ledger.rows.length === 1, 'ledger.rows.length === 1');
      expect(ledger.rows[0]!.outcome).toBe('cancelled');
      expect((await stream(ask('long story'))).meta?.cache).toBe('MISS');
    });
  });

  describe('llm.models.v1', () => {
    it('lists routed models and aliases in the OpenAI format', async () => {
      await start();
      const list = await t.client.request(LLM.models, {});
      expect(list.data.map((m) => m.id)).toEqual(['gpt-4o-mini', 'mock-gpt', 'mini']);
    });
  });
});
