import { describe, expect, it } from '@jest/globals';
import { type ChatCompletionRequest } from '@regatta/contracts';
import { cacheKey, canonicalJson, normalizeRequest } from './cache-key.js';

const base: ChatCompletionRequest = {
  model: 'mini',
  messages: [{ role: 'user', content: 'hi' }],
  temperature: 0,
};
const key = (body: ChatCompletionRequest, tenant = 't1', mode: 'json' | 'sse' = 'json') =>
  cacheKey(tenant, mode, normalizeRequest('gpt-4o-mini', body));

describe(normalizeRequest.name, () => {
  it('ignores transport-only fields: stream options, user, cache controls, metadata', () => {
    expect(
      key({
        ...base,
        stream_options: { include_usage: true },
        user: 'u1',
        cache: { ttl_s: 5 },
        metadata: { a: 1 },
      }),
    ).toBe(key(base));
  });

  it('treats spelled-out defaults, both max-token spellings, a one-part text array and a single stop string as the same request', () => {
    const variant: ChatCompletionRequest = {
      ...base,
      top_p: 1,
      n: 1,
      presence_penalty: 0,
      max_tokens: 50,
      stop: 'END',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
    };
    expect(key(variant)).toBe(key({ ...base, max_completion_tokens: 50, stop: ['END'] }));
  });

  it('separates requests whose answer can differ: messages, sampling, tools, response format, model', () => {
    const k = key(base);
    expect(key({ ...base, messages: [{ role: 'user', content: 'hi!' }] })).not.toBe(k);
    expect(key({ ...base, temperature: 0.5 })).not.toBe(k);
    expect(key({ ...base, seed: 7 })).not.toBe(k);
    expect(key({ ...base, tools: [{ type: 'function', function: { name: 'f' } }] })).not.toBe(k);
    expect(key({ ...base, response_format: { type: 'json_object' } })).not.toBe(k);
    expect(cacheKey('t1', 'json', normalizeRequest('gpt-4o', base))).not.toBe(k);
  });

  it('scopes keys by tenant and keeps streamed and whole answers apart', () => {
    expect(key(base, 't2')).not.toBe(key(base, 't1'));
    expect(key(base, 't1', 'sse')).not.toBe(key(base, 't1', 'json'));
    expect(key(base, 'a:b')).toMatch(/^a%3Ab:/);
  });

  it('resolves aliases: the routed model is part of the key, not the name the caller used', () => {
    expect(key({ ...base, model: 'mini' })).toBe(key({ ...base, model: 'gpt-4o-mini' }));
  });
});

describe(canonicalJson.name, () => {
  it('sorts keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });
});
