import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '@regatta/config';
import { type ApiKeyStore, type RunningGateway, createGateway, gatewayEnv } from '@regatta/gateway';
import { InProcessBus } from '@regatta/transport';
import OpenAI from 'openai';
import { FakeOpenAi } from './testing/fake-openai.js';
import { type TestProxy, fakeRouting, startTestProxy, testConfig } from './testing/harness.js';

// The bootstrap admin key holds every scope, `chat` included.
const KEY = 'rg_llm_proxy_test_admin_key_0123456789';

const noKeys: ApiKeyStore = {
  insert: () => Promise.reject(new Error('no key store in this test')),
  findActiveByHash: () => Promise.resolve(undefined),
  get: () => Promise.resolve(undefined),
  list: () => Promise.resolve([]),
  revoke: () => Promise.resolve(undefined),
};

describe('the official openai client against the gateway', () => {
  let fake: FakeOpenAi;
  let proxy: TestProxy;
  let gateway: RunningGateway;
  let openai: OpenAI;

  beforeAll(async () => {
    fake = await FakeOpenAi.start();
    const bus = new InProcessBus();
    proxy = await startTestProxy(testConfig(fakeRouting(fake.url)), {}, bus);
    const config = loadConfig(gatewayEnv, {
      ENVIRONMENT: 'test',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      REGATTA_ADMIN_KEY: KEY,
    });
    gateway = await createGateway({ bus, config, port: 0, keyStore: noKeys });
    openai = new OpenAI({ apiKey: KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gateway?.close();
    await proxy?.close();
    await fake?.close();
  });

  it('gets a completion, and the second identical call is a cache hit', async () => {
    const ask = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'plain' }],
      temperature: 0,
    };
    const first = await openai.chat.completions.create(ask).withResponse();
    expect(first.data.choices[0]?.message.content).toBe('echo: plain');
    expect(first.data.usage?.total_tokens).toBe(15);
    expect(first.response.headers.get('x-regatta-cache')).toBe('MISS');
    expect(first.response.headers.get('x-regatta-provider')).toBe('fake');
    const second = await openai.chat.completions.create(ask).withResponse();
    expect(second.response.headers.get('x-regatta-cache')).toBe('HIT');
    expect(second.data).toEqual(first.data);
    expect(fake.calls).toBe(1);
  });

  it('streams with stream: true, and the second identical stream is replayed from the cache', async () => {
    const ask = {
      model: 'mini',
      messages: [{ role: 'user' as const, content: 'streamed words' }],
      temperature: 0,
      stream: true as const,
    };
    const read = async () => {
      const { data, response } = await openai.chat.completions.create(ask).withResponse();
      let text = '';
      for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? '';
      return {
        text,
        cache: response.headers.get('x-regatta-cache'),
        type: response.headers.get('content-type'),
      };
    };
    const before = fake.calls;
    const first = await read();
    const second = await read();
    expect(first).toEqual({
      text: 'echo: streamed words',
      cache: 'MISS',
      type: 'text/event-stream; charset=utf-8',
    });
    expect(second).toEqual({ ...first, cache: 'HIT' });
    expect(fake.calls).toBe(before + 1);
  });

  it('receives the usage chunk when it asks for one', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'usage please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const usage = [];
    for await (const chunk of stream) if (chunk.usage) usage.push(chunk.usage);
    expect(usage).toEqual([expect.objectContaining({ prompt_tokens: 10, completion_tokens: 5 })]);
  });

  it('lists the routed models', async () => {
    const ids = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    expect(ids).toEqual(expect.arrayContaining(['gpt-4o-mini', 'mock-gpt', 'mini']));
  });

  it('sees an unknown model as a 404 NotFoundError', async () => {
    await expect(
      openai.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('cancels the upstream call when the client abandons a stream', async () => {
    fake.chunkDelayMs = 150;
    fake.chunks = 10;
    const aborted = fake.aborted;
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'a very long answer that the client will not wait for' }],
      stream: true,
    });
    for await (const _chunk of stream) break;
    const deadline = Date.now() + 5_000;
    while (fake.aborted === aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(fake.aborted).toBe(aborted + 1);
    fake.chunkDelayMs = 0;
    fake.chunks = 3;
  });

  it('lets the gateway close promptly after the abandoned stream', async () => {
    // fetch opens a spare connection when a stream is abandoned; it must not hold the close.
    const started = performance.now();
    await gateway.close();
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
