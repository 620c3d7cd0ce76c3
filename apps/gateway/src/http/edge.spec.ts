import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HEADERS, type HttpErrorBody } from '@regatta/contracts';
import { InProcessBus } from '@regatta/transport';
import { type ProbeCall, ProbeController, serveProbe } from '../testing/probe.js';
import { type TestGateway, startTestGateway } from '../testing/harness.js';

const code = (body: unknown) => (body as HttpErrorBody).error.code;

describe('installEdge', () => {
  describe('deadlines', () => {
    let gw: TestGateway;
    let calls: ProbeCall[];
    let key: string;

    beforeAll(async () => {
      const bus = new InProcessBus();
      calls = serveProbe(bus).calls;
      gw = await startTestGateway({ bus, controllers: [ProbeController], env: { ROUTE_TIMEOUT_MS: '800' } });
      key = (await gw.createKey({ tenant: 'acme', scopes: ['predict'] })).key;
    });
    afterAll(async () => {
      await gw?.close();
    });

    it("answers 504 DEADLINE_EXCEEDED when the route's budget runs out", async () => {
      const started = performance.now();
      const res = await gw.request('/v1/probe/slow?ms=3000');
      const elapsed = performance.now() - started;
      expect(res.status).toBe(504);
      expect(code(res.body)).toBe('DEADLINE_EXCEEDED');
      // The slow route's own budget is 1000 ms.
      expect(elapsed).toBeGreaterThanOrEqual(990);
      expect(elapsed).toBeLessThan(1_050);
      expect(res.headers.get('x-response-time-ms')).not.toBeNull();
    });

    it('lets X-Request-Timeout-Ms lower the budget', async () => {
      const started = performance.now();
      const res = await gw.request('/v1/probe/slow?ms=3000', { headers: { 'x-request-timeout-ms': '100' } });
      expect(res.status).toBe(504);
      expect(performance.now() - started).toBeLessThan(150);
    });

    it('never lets the header raise the budget', async () => {
      const started = performance.now();
      const res = await gw.request('/v1/probe/slow?ms=1500', { headers: { 'x-request-timeout-ms': '5000' } });
      expect(res.status).toBe(504);
      expect(performance.now() - started).toBeLessThan(1_050);
    });

    it('refuses a malformed timeout header with 400', async () => {
      for (const value of ['0', '-5', 'soon', '1e3', '12345678901']) {
        const res = await gw.request('/v1/probe/slow?ms=1', { headers: { 'x-request-timeout-ms': value } });
        expect(res.status).toBe(400);
        expect((res.body as HttpErrorBody).error.message).toContain('x-request-timeout-ms');
      }
    });

    it('sends the remaining budget, tenant and request id to the service', async () => {
      const res = await gw.request('/v1/probe/call', {
        key,
        body: { text: 'hello' },
        headers: { 'x-request-timeout-ms': '300', 'x-request-id': 'req-edge-1' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ text: 'hello' });
      const call = calls.find((c) => c.headers.get(HEADERS.requestId) === 'req-edge-1')!;
      expect(call.headers.get(HEADERS.tenant)).toBe('acme');
      const sent = Number(call.headers.get(HEADERS.timeoutMs));
      expect(sent).toBeGreaterThan(250);
      expect(sent).toBeLessThanOrEqual(300);
    });

    it('answers 504 when the service never replies', async () => {
      const started = performance.now();
      const res = await gw.request('/v1/probe/call', {
        key,
        body: { text: 'hang' },
        headers: { 'x-request-timeout-ms': '200' },
      });
      expect(res.status).toBe(504);
      expect(performance.now() - started).toBeLessThan(250);
    });

    it('gives the handler the request scope (tenant, request id, deadline)', async () => {
      const res = await gw.request('/v1/probe/echo', {
        key,
        body: { text: 'x' },
        headers: { 'x-request-timeout-ms': '500', 'x-request-id': 'scope-check' },
      });
      const scope = (res.body as { scope: { tenant: string; request_id: string; left_ms: number } }).scope;
      expect(scope.tenant).toBe('acme');
      expect(scope.request_id).toBe('scope-check');
      expect(scope.left_ms).toBeGreaterThan(400);
      expect(scope.left_ms).toBeLessThanOrEqual(500);
    });

    it('streams server-sent events and ends with [DONE]', async () => {
      const res = await gw.request('/v1/probe/stream', { key, body: { text: 'stream:a b c' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      expect(res.text).toBe(
        'data: {"text":"a"}\n\ndata: {"text":"b"}\n\ndata: {"text":"c"}\n\ndata: [DONE]\n\n',
      );
    });

    it('answers a stream that fails before its first event with an ordinary error', async () => {
      const res = await gw.request('/v1/probe/stream', { key, body: { text: 'fail:OVERLOADED' } });
      expect(res.status).toBe(503);
      expect(code(res.body)).toBe('OVERLOADED');
      expect(res.headers.get('retry-after')).toBe('1');
    });
  });

  describe('rate limits', () => {
    let gw: TestGateway;

    beforeAll(async () => {
      gw = await startTestGateway({ controllers: [ProbeController] });
    });
    afterAll(async () => {
      await gw?.close();
    });

    it('sends RateLimit headers and answers 429 with Retry-After past the burst', async () => {
      const { key } = await gw.createKey({ tenant: 'acme', scopes: ['predict'], rate_per_s: 0.5, burst: 3 });
      const remaining: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await gw.request('/v1/probe/echo', { key, body: { text: 'x' } });
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit-limit')).toBe('3');
        remaining.push(res.headers.get('ratelimit-remaining')!);
      }
      expect(remaining).toEqual(['2', '1', '0']);
      const limited = await gw.request('/v1/probe/echo', { key, body: { text: 'x' } });
      expect(limited.status).toBe(429);
      expect(code(limited.body)).toBe('RESOURCE_EXHAUSTED');
      expect(Number(limited.headers.get('retry-after'))).toBe(2);
      expect(limited.headers.get('ratelimit-remaining')).toBe('0');
      expect(Number(limited.headers.get('ratelimit-reset'))).toBe(6);
    });

    it('limits each key on its own', async () => {
      const a = await gw.createKey({ tenant: 'acme', scopes: ['predict'], rate_per_s: 0.1, burst: 1 });
      const b = await gw.createKey({ tenant: 'acme', scopes: ['predict'], rate_per_s: 0.1, burst: 1 });
      expect((await gw.request('/v1/probe/echo', { key: a.key, body: { text: 'x' } })).status).toBe(200);
      expect((await gw.request('/v1/probe/echo', { key: a.key, body: { text: 'x' } })).status).toBe(429);
      expect((await gw.request('/v1/probe/echo', { key: b.key, body: { text: 'x' } })).status).toBe(200);
    });

    it('does not limit public routes', async () => {
      for (let i = 0; i < 5; i++)
        expect((await gw.request('/health')).headers.get('ratelimit-limit')).toBeNull();
    });

    it('reports per-process limits as degraded in /ready', async () => {
      const res = await gw.request('/ready');
      expect(
        (res.body as { checks: Record<string, { status: string }> }).checks['rate-limits'],
      ).toMatchObject({
        status: 'degraded',
      });
    });
  });

  describe('load shedding', () => {
    let gw: TestGateway;

    beforeAll(async () => {
      gw = await startTestGateway({ controllers: [ProbeController], env: { MAX_IN_FLIGHT: '2' } });
    });
    afterAll(async () => {
      await gw?.close();
    });

    it('answers past the in-flight limit with a fast 503 + Retry-After, and recovers', async () => {
      const slow = [gw.request('/v1/probe/slow?ms=300'), gw.request('/v1/probe/slow?ms=300')];
      await new Promise((r) => setTimeout(r, 50));
      const started = performance.now();
      const shed = await gw.request('/v1/probe/slow?ms=1');
      expect(performance.now() - started).toBeLessThan(50);
      expect(shed.status).toBe(503);
      expect(code(shed.body)).toBe('OVERLOADED');
      expect(shed.headers.get('retry-after')).toBe('1');
      // Operational routes are never shed.
      expect((await gw.request('/health')).status).toBe(200);
      for (const res of await Promise.all(slow)) expect(res.status).toBe(200);
      expect((await gw.request('/v1/probe/slow?ms=1')).status).toBe(200);
    });

    it('frees the slot of a request whose client went away', async () => {
      const controller = new AbortController();
      const gone = fetch(`${gw.url}/v1/probe/slow?ms=300`, { signal: controller.signal }).catch(
        () => undefined,
      );
      const other = gw.request('/v1/probe/slow?ms=300');
      await new Promise((r) => setTimeout(r, 50));
      controller.abort();
      await gone;
      await new Promise((r) => setTimeout(r, 20));
      expect((await gw.request('/v1/probe/slow?ms=1')).status).toBe(200);
      expect((await other).status).toBe(200);
    });
  });
});
