import { describe, expect, it } from '@jest/globals';
import { RegattaClient } from './client.js';
import { RegattaApiError } from './errors.js';
import { readEventStream } from './sse.js';

interface Seen {
  url: string;
  init: RequestInit;
}

/** A fetch that records calls and answers with `respond`. */
function fakeFetch(respond: (url: string, init: RequestInit) => Response | Promise<Response>): {
  fetch: typeof fetch;
  seen: Seen[];
} {
  const seen: Seen[] = [];
  const fn = (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    seen.push({ url, init: init ?? {} });
    return Promise.resolve(respond(url, init ?? {}));
  };
  return { fetch: fn, seen };
}

/** A streamed body delivered in the given pieces. */
function streamOf(pieces: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const p of pieces) controller.enqueue(encoder.encode(p));
      controller.close();
    },
  });
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

async function failure(p: Promise<unknown>): Promise<RegattaApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RegattaApiError);
    return err as RegattaApiError;
  }
  throw new Error('expected a failure');
}

describe(RegattaClient.name, () => {
  describe('calls', () => {
    it('sends the key, the JSON body, the budget and the request id', async () => {
      const { fetch, seen } = fakeFetch(() =>
        json({ model: 'fraud', version: '1', outputs: {}, cache_hits: 0 }),
      );
      const client = new RegattaClient({
        baseUrl: 'http://gw.test/',
        apiKey: 'rg_key',
        timeoutMs: 800,
        fetch,
      });
      const reply = await client.predict('fraud model', { rows: [[1, 2]] }, { requestId: 'req-1' });
      expect(reply.model).toBe('fraud');
      const { url, init } = seen[0]!;
      expect(url).toBe('http://gw.test/v1/predict/fraud%20model');
      expect(init.method).toBe('POST');
      expect(JSON.parse(init.body as string)).toEqual({ rows: [[1, 2]] });
      expect(init.headers).toMatchObject({
        authorization: 'Bearer rg_key',
        'content-type': 'application/json',
        'x-request-timeout-ms': '800',
        'x-request-id': 'req-1',
      });
    });

    it('uses the routes of the API', async () => {
      const { fetch, seen } = fakeFetch(() => json({}));
      const client = new RegattaClient({ baseUrl: 'http://gw.test', fetch });
      await client.decide({ flow: 'fraud', entities: { customer_id: 'c1' } });
      await client.getDecision('d/1');
      await client.features({ features: ['v:f'], entities: { id: [1] } });
      await client.chat({ model: 'mock', messages: [{ role: 'user', content: 'hi' }] });
      await client.health();
      expect(seen.map((s) => `${s.init.method} ${s.url.slice('http://gw.test'.length)}`)).toEqual([
        'POST /v1/decisions',
        'GET /v1/decisions/d%2F1',
        'POST /v1/features',
        'POST /v1/chat/completions',
        'GET /health',
      ]);
      expect(JSON.parse(seen[3]!.init.body as string)).toMatchObject({ stream: false });
      expect(seen[1]!.init.body).toBeUndefined();
    });
  });

  describe('errors', () => {
    it('turns the uniform error body into a typed error', async () => {
      const { fetch } = fakeFetch(() =>
        json(
          { error: { code: 'RESOURCE_EXHAUSTED', message: 'rate limit reached', request_id: 'abc' } },
          429,
          { 'retry-after': '3' },
        ),
      );
      const err = await failure(new RegattaClient({ baseUrl: 'http://gw.test', fetch }).health());
      expect(err).toMatchObject({
        code: 'RESOURCE_EXHAUSTED',
        status: 429,
        requestId: 'abc',
        retryAfterS: 3,
        message: 'rate limit reached',
      });
      expect(err.retryable).toBe(true);
    });

    it('maps an answer without an error body by its status', async () => {
      const { fetch } = fakeFetch(
        () => new Response('<html>Bad Gateway</html>', { status: 502, headers: { 'x-request-id': 'lb-1' } }),
      );
      const err = await failure(new RegattaClient({ baseUrl: 'http://gw.test', fetch }).health());
      expect(err).toMatchObject({ code: 'UNAVAILABLE', status: 502, requestId: 'lb-1' });
      expect(err.message).toContain('Bad Gateway');
    });

    it('reports an unreachable gateway as NETWORK', async () => {
      const fetch = (() => Promise.reject(new TypeError('fetch failed'))) as typeof globalThis.fetch;
      const err = await failure(new RegattaClient({ baseUrl: 'http://gw.test', fetch }).health());
      expect(err).toMatchObject({ code: 'NETWORK', status: 0 });
      expect(err.retryable).toBe(true);
    });

    it('reports an aborted call as ABORTED', async () => {
      const fetch = ((_url: string, init: RequestInit) =>
        new Promise((_resolve, reject) => {
          init.signal!.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        })) as unknown as typeof globalThis.fetch;
      const controller = new AbortController();
      const pending = new RegattaClient({ baseUrl: 'http://gw.test', fetch }).health({
        signal: controller.signal,
      });
      controller.abort();
      expect((await failure(pending)).code).toBe('ABORTED');
    });

    it('gives up on its own a little after the budget when the gateway does not answer', async () => {
      const fetch = ((_url: string, init: RequestInit) =>
        new Promise((_resolve, reject) => {
          init.signal!.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        })) as unknown as typeof globalThis.fetch;
      const started = Date.now();
      const err = await failure(
        new RegattaClient({ baseUrl: 'http://gw.test', fetch }).health({ timeoutMs: 50 }),
      );
      expect(err.code).toBe('DEADLINE_EXCEEDED');
      expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    });
  });

  describe('chatStream', () => {
    const sse = (pieces: string[]) =>
      fakeFetch(
        () =>
          new Response(streamOf(pieces), {
            status: 200,
            headers: { 'content-type': 'text/event-stream', 'x-request-id': 's1' },
          }),
      );

    it('yields the chunks however the bytes are split, until [DONE]', async () => {
      const text =
        'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\ndata: {"choices":[{"delta":{"content":"lo"}}]}\r\n\r\ndata: [DONE]\n\n';
      const pieces = text.match(/.{1,7}/gs)!;
      const { fetch, seen } = sse(pieces);
      const chunks = [];
      for await (const c of new RegattaClient({ baseUrl: 'http://gw.test', fetch }).chatStream({
        model: 'm',
        messages: [],
      }))
        chunks.push(c);
      expect(chunks).toEqual([
        { choices: [{ delta: { content: 'Hel' } }] },
        { choices: [{ delta: { content: 'lo' } }] },
      ]);
      expect(JSON.parse(seen[0]!.init.body as string)).toMatchObject({ stream: true });
      expect(seen[0]!.init.headers).toMatchObject({ accept: 'text/event-stream' });
    });

    it('throws the typed error of an error event', async () => {
      const { fetch } = sse([
        'data: {"choices":[]}\n\n',
        'event: error\ndata: {"error":{"code":"UNAVAILABLE","message":"provider went away","request_id":"s1"}}\n\n',
      ]);
      const chunks: unknown[] = [];
      const err = await failure(
        (async () => {
          for await (const c of new RegattaClient({ baseUrl: 'http://gw.test', fetch }).chatStream({
            model: 'm',
            messages: [],
          }))
            chunks.push(c);
        })(),
      );
      expect(chunks).toHaveLength(1);
      expect(err).toMatchObject({ code: 'UNAVAILABLE', message: 'provider went away', requestId: 's1' });
    });

    it('reports a stream cut before [DONE]', async () => {
      const { fetch } = sse(['data: {"choices":[]}\n\n']);
      const err = await failure(
        (async () => {
          for await (const _ of new RegattaClient({ baseUrl: 'http://gw.test', fetch }).chatStream({
            model: 'm',
            messages: [],
          }))
            void _;
        })(),
      );
      expect(err.code).toBe('UNAVAILABLE');
    });

    it('answers a refused stream with the typed error before any chunk', async () => {
      const { fetch } = fakeFetch(() =>
        json({ error: { code: 'PERMISSION_DENIED', message: 'needs chat', request_id: 'x' } }, 403),
      );
      const err = await failure(
        (async () => {
          for await (const _ of new RegattaClient({ baseUrl: 'http://gw.test', fetch }).chatStream({
            model: 'm',
            messages: [],
          }))
            void _;
        })(),
      );
      expect(err).toMatchObject({ code: 'PERMISSION_DENIED', status: 403 });
    });
  });
});

describe(readEventStream.name, () => {
  it('joins multi-line data, skips comments, names events and drops an event cut off by the end', async () => {
    const events = [];
    for await (const e of readEventStream(
      streamOf([': keep-alive\n', 'event: note\ndata: a\ndata: b\n\n', 'data:c\n\n', 'data: tail']),
    ))
      events.push(e);
    expect(events).toEqual([
      { event: 'note', data: 'a\nb' },
      { event: 'message', data: 'c' },
    ]);
  });
});
