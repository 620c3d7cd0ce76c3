import { createHash } from 'node:crypto';
import { type MockProviderSpec } from '../routing/routing-config.js';
import {
  type JsonObject,
  type Provider,
  type UpstreamCall,
  upstreamCancelled,
  upstreamTimeout,
} from './provider.js';

const WORDS = [
  'regatta',
  'harbour',
  'signal',
  'tide',
  'keel',
  'beacon',
  'compass',
  'current',
  'anchor',
  'sail',
  'course',
  'wind',
  'buoy',
  'channel',
  'mast',
  'chart',
  'rudder',
  'swell',
  'hull',
  'knot',
];

/** Options of the mock provider (the routing file's `type: "mock"` entry). */
export type MockOptions = Omit<MockProviderSpec, 'type'>;

/**
 * A provider that answers without any network: deterministic text derived from the request, fixed
 * token counts and configurable latency. For tests and offline demos; routing only lets models named
 * `mock-*` reach it.
 */
export class MockProvider implements Provider {
  /** Calls received, for tests and demos. */
  calls = 0;

  constructor(
    readonly name: string,
    private readonly options: MockOptions,
  ) {}

  async complete(call: UpstreamCall): Promise<JsonObject> {
    this.calls++;
    await this.wait(this.options.latency_ms, call);
    const { words, finish, usage, id, created, model } = this.answer(call.body);
    const completion: JsonObject = {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: words.join(' ') },
          logprobs: null,
          finish_reason: finish,
        },
      ],
    };
    if (this.options.usage) completion.usage = usage;
    return completion;
  }

  async *stream(call: UpstreamCall): AsyncGenerator<JsonObject> {
    this.calls++;
    await this.wait(this.options.latency_ms, call);
    const { words, finish, usage, id, created, model } = this.answer(call.body);
    const withUsage =
      this.options.usage &&
      (call.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const base = { id, object: 'chat.completion.chunk', created, model };
    const extra = withUsage ? { usage: null } : {};
    yield {
      ...base,
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
      ...extra,
    };
    const per = Math.ceil(words.length / this.options.chunks);
    for (let i = 0; i < words.length; i += per) {
      if (i > 0) await this.wait(this.options.chunk_delay_ms, call);
      const text = (i > 0 ? ' ' : '') + words.slice(i, i + per).join(' ');
      yield { ...base, choices: [{ index: 0, delta: { content: text }, finish_reason: null }], ...extra };
    }
    yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: finish }], ...extra };
    if (withUsage) yield { ...base, choices: [], usage };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private answer(body: JsonObject) {
    const digest = createHash('sha256').update(JSON.stringify(body.messages)).digest();
    const limit = Number(body.max_completion_tokens ?? body.max_tokens ?? Number.POSITIVE_INFINITY);
    const count = Math.min(this.options.completion_tokens, limit);
    const words = Array.from({ length: count }, (_, i) => WORDS[digest[i % digest.length]! % WORDS.length]!);
    const promptTokens = Math.ceil(Buffer.byteLength(JSON.stringify(body.messages)) / 4);
    return {
      words,
      finish: count < this.options.completion_tokens ? 'length' : 'stop',
      id: `chatcmpl-mock-${digest.subarray(0, 12).toString('hex')}`,
      created: 1_700_000_000,
      model: String(body.model),
      usage: { prompt_tokens: promptTokens, completion_tokens: count, total_tokens: promptTokens + count },
    };
  }

  private async wait(ms: number, call: UpstreamCall): Promise<void> {
    if (call.signal.aborted) throw upstreamCancelled(this.name);
    if (ms <= 0) return;
    if (Date.now() + ms > call.deadline) {
      await sleep(Math.max(0, call.deadline - Date.now()), call.signal);
      throw call.signal.aborted ? upstreamCancelled(this.name) : upstreamTimeout(this.name);
    }
    await sleep(ms, call.signal);
    if (call.signal.aborted) throw upstreamCancelled(this.name);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
