import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { type RedisHandle, connectRedis } from '@regatta/cache';
import { type ChatCompletionRequest, LLM, type LlmChatFrame, type RegattaError } from '@regatta/contracts';
import { TcpFaultProxy, serviceUrls, uniqueName, eventually } from '@regatta/testing';
import { getRegistry } from '@regatta/telemetry';
import { InProcessBus } from '@regatta/transport';
import { worstCaseUsd } from './cost/limits.js';
import { loadPriceTable } from './cost/price-table.js';
import { FakeOpenAi } from './testing/fake-openai.js';
import { type TestProxy, fakeRouting, startTestProxy, testConfig } from './testing/harness.js';

const quiet = { info: () => undefined, warn: () => undefined };

const ask = (content: string, extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content }],
  temperature: 0,
  ...extra,
});

describe('llm-proxy on a real Redis', () => {
  let fake: FakeOpenAi;
  const running: { close(): Promise<void> }[] = [];
  const handles: RedisHandle[] = [];

  beforeAll(async () => {
    fake = await FakeOpenAi.start();
  });
  afterEach(async () => {
    for (const r of running.splice(0).reverse()) await r.close();
    for (const h of handles.splice(0)) await h.close();
    Object.assign(fake, { calls: 0, latencyMs: 0, chunkDelayMs: 0 });
  });
  afterAll(async () => {
    await fake.close();
  });

  /** Two replicas of the proxy in one queue group, each with its own Redis connection, sharing a key prefix. */
  async function replicas(env: Record<string, string> = {}, redisUrl = serviceUrls().redis) {
    const bus = new InProcessBus();
    const config = testConfig(fakeRouting(fake.url), { LLM_REDIS_PREFIX: uniqueName('llmtest'), ...env });
    const started: TestProxy[] = [];
    for (let i = 0; i < 2; i++) {
      const redis = connectRedis(redisUrl, { name: `llm-test-${i}`, logger: quiet });
      handles.push(redis);
      await eventually(() => redis.client() !== undefined, 'redis.client() !== undefined');
      started.push(await startTestProxy(config, { redis }, bus));
    }
    running.push({ close: () => Promise.all(started.map((s) => s.proxy.close())).then(() => bus.close()) });
    return { client: started[0]!.client, proxies: started };
  }

  it('makes one upstream call for identical concurrent requests spread over two replicas, streams included', async () => {
    const { client } = await replicas();
    fake.latencyMs = 150;
    fake.chunkDelayMs = 10;
    const whole = Promise.all(
      Array.from({ length: 20 }, () => client.request(LLM.chat, { body: ask('across replicas') })),
    );
    const streams = Promise.all(
      Array.from({ length: 10 }, async () => {
        const frames: LlmChatFrame[] = [];
        for await (const f of client.stream(LLM.chat, { body: ask('across replicas, streamed') }))
          frames.push(f as LlmChatFrame);
        return frames.filter((f) => f.type === 'chunk');
      }),
    );
    const [replies, chunks] = await Promise.all([whole, streams]);
    expect(fake.calls).toBe(2);
    expect(new Set(replies.map((r) => JSON.stringify(r.completion))).size).toBe(1);
    expect(replies.filter((r) => r.meta.cache === 'MISS')).toHaveLength(1);
    expect(new Set(chunks.map((c) => JSON.stringify(c))).size).toBe(1);
    expect(chunks[0]!.length).toBeGreaterThan(2);
    expect((await client.request(LLM.chat, { body: ask('across replicas') })).meta.cache).toBe('HIT');
  });

  it('lets at most 10 of 100 concurrent requests on two replicas reach the provider when the budget holds 10', async () => {
    const bodies = Array.from({ length: 100 }, (_, i) =>
      ask(`budget ${String(i).padStart(3, '0')}`, { max_tokens: 50 }),
    );
    const price = loadPriceTable(testConfig(fakeRouting(fake.url)).LLM_PRICE_FILE).models.get('gpt-4o-mini')!;
    const worst = worstCaseUsd(bodies[0]!, price, 4096);
    const { client } = await replicas({ LLM_TENANT_BUDGET_USD: String(worst * 10.5) });
    fake.latencyMs = 100;
    const results = await Promise.allSettled(bodies.map((body) => client.request(LLM.chat, { body })));
    const refused: RegattaError[] = [];
    for (const r of results) if (r.status === 'rejected') refused.push(r.reason as RegattaError);
    expect(fake.calls).toBeLessThanOrEqual(10);
    expect(fake.calls).toBeGreaterThan(0);
    expect(refused).toHaveLength(100 - fake.calls);
    expect(refused.every((e) => e.code === 'RESOURCE_EXHAUSTED')).toBe(true);
  });

  it('keeps answering while Redis is unreachable, and caches again once it is back', async () => {
    const target = new URL(serviceUrls().redis);
    const cut = await new TcpFaultProxy({ targetPort: Number(target.port || 6379) }).start();
    running.push({ close: () => cut.stop() });
    const { client, proxies } = await replicas({}, cut.urlFor(serviceUrls().redis));
    // Answers are cached after they are sent: wait for that before asking again.
    const settled = () => Promise.all(proxies.map((p) => p.proxy.chat.drain()));
    await client.request(LLM.chat, { body: ask('outage') });
    await settled();
    expect((await client.request(LLM.chat, { body: ask('outage') })).meta.cache).toBe('HIT');
    cut.cut();
    const during = await client.request(LLM.chat, { body: ask('during the outage') });
    expect(during.meta.cache).toBe('MISS');
    cut.restore();
    await eventually(
      () => handles.every((h) => h.client() !== undefined),
      'handles.every((h) => h.client() !== undefined)',
      10_000,
    );
    await client.request(LLM.chat, { body: ask('after the outage') });
    await settled();
    expect((await client.request(LLM.chat, { body: ask('after the outage') })).meta.cache).toBe('HIT');
  }, 30_000);

  it('counts monthly active users per tenant in a HyperLogLog shared by the replicas, and cost per user', async () => {
    const { client, proxies } = await replicas();
    for (const user of ['ann', 'bob', 'ann', 'cid', 'bob'])
      await client.request(LLM.chat, { body: ask(`hi from ${user}`), user });
    await proxies[0]!.proxy.chat.drain();
    await proxies[1]!.proxy.chat.drain();
    await proxies[1]!.proxy.chat.refreshGauges();
    expect(await gaugeValue('llm_monthly_active_users', 'default')).toBe(3);
    // Three paid calls (the repeated questions were cache hits) at 10 prompt (4 cached) and 5 completion
    // tokens each, over three users.
    const perCall = (6 * 0.15 + 4 * 0.075 + 5 * 0.6) / 1e6;
    expect(await gaugeValue('llm_cost_per_mau_usd', 'default')).toBeCloseTo((3 * perCall) / 3, 12);
  });
});

async function gaugeValue(name: string, tenant: string): Promise<number | undefined> {
  const metric = getRegistry().getSingleMetric(name);
  const values = (await metric?.get())?.values ?? [];
  return values.find((v) => v.labels.tenant === tenant)?.value;
}
