import { describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { type Provider, upstreamConnectionError, upstreamStatusError } from '../providers/provider.js';
import { Router } from './router.js';
import { type RoutingTable } from './routing-config.js';

function provider(name: string, answers: (() => unknown)[]): Provider & { calls: number } {
  const p = {
    name,
    calls: 0,
    complete: () => {
      const answer = answers[Math.min(p.calls++, answers.length - 1)]!;
      return Promise.resolve().then(answer) as Promise<Record<string, unknown>>;
    },
    stream: () => {
      throw new Error('not used');
    },
    close: () => Promise.resolve(),
  };
  return p;
}

const ok = () => ({ choices: [] });
const fail = (status: number, retryAfter?: number) => () => {
  throw upstreamStatusError('p', status, 'boom', retryAfter);
};

function router(providers: Provider[], targets = providers.map((p) => ({ provider: p.name }))) {
  const table: RoutingTable = {
    version: 't',
    providers: new Map(providers.map((p) => [p.name, { name: p.name, type: 'openai', baseUrl: 'http://x' }])),
    models: new Map([['m', targets.map((t) => ({ upstreamModel: 'm', weight: 1, priority: 0, ...t }))]]),
    aliases: new Map(),
  };
  return new Router({
    table,
    providers: new Map(providers.map((p) => [p.name, p])),
    retries: 2,
    retryBaseMs: 1,
    breaker: { failureThreshold: 3, cooldownMs: 60_000 },
    random: () => 0,
    sleep: () => Promise.resolve(),
  });
}

const call = (r: Router, deadline = Date.now() + 5_000) =>
  r.call('m', deadline, new AbortController().signal, (p) =>
    p.complete({ body: {}, deadline, signal: new AbortController().signal }),
  );

describe(Router.name, () => {
  describe('call', () => {
    it('retries a 5xx at the same provider, then succeeds', async () => {
      const a = provider('a', [fail(503), fail(502), ok]);
      await expect(call(router([a]))).resolves.toMatchObject({ provider: 'a' });
      expect(a.calls).toBe(3);
    });

    it('falls back to the next provider after the retries, and 5xx after retries is UNAVAILABLE', async () => {
      const a = provider('a', [fail(500)]);
      const b = provider('b', [ok]);
      await expect(call(router([a, b]))).resolves.toMatchObject({ provider: 'b' });
      expect(a.calls).toBe(3);
      const lone = provider('a', [fail(500)]);
      await expect(call(router([lone]))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    });

    it('turns 429 everywhere into RESOURCE_EXHAUSTED with the shortest Retry-After, without retrying the same provider', async () => {
      const a = provider('a', [fail(429, 7)]);
      const b = provider('b', [fail(429, 3)]);
      const err = (await call(router([a, b])).catch((e: unknown) => e)) as RegattaError;
      expect(err).toMatchObject({ code: 'RESOURCE_EXHAUSTED', retryAfterS: 3 });
      expect(a.calls + b.calls).toBe(2);
    });

    it('fails at once on a bad request: no retry, no fallback', async () => {
      const a = provider('a', [fail(400)]);
      const b = provider('b', [ok]);
      await expect(call(router([a, b]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(b.calls).toBe(0);
    });

    it('skips a provider whose circuit is open and reports the open circuits', async () => {
      const a = provider('a', [
        () => {
          throw upstreamConnectionError('a', 'ECONNREFUSED');
        },
      ]);
      const b = provider('b', [ok]);
      const r = router([a, b]);
      await call(r);
      expect(r.circuits()).toEqual({ a: 'open', b: 'closed' });
      await call(r);
      expect(a.calls).toBe(3);
    });

    it('is DEADLINE_EXCEEDED when the deadline has passed', async () => {
      await expect(call(router([provider('a', [ok])]), Date.now() - 1)).rejects.toMatchObject({
        code: 'DEADLINE_EXCEEDED',
      });
    });

    it('names the missing variable when no provider of the model is configured', async () => {
      const table: RoutingTable = {
        version: 't',
        providers: new Map([
          ['openai', { name: 'openai', type: 'unconfigured', reason: 'set OPENAI_API_KEY' }],
        ]),
        models: new Map([['m', [{ provider: 'openai', upstreamModel: 'm', weight: 1, priority: 0 }]]]),
        aliases: new Map(),
      };
      const r = new Router({
        table,
        providers: new Map(),
        retries: 0,
        retryBaseMs: 1,
        breaker: { failureThreshold: 1, cooldownMs: 1 },
      });
      await expect(call(r)).rejects.toThrow(/OPENAI_API_KEY/);
    });
  });

  describe('order', () => {
    it('tries lower priorities first and orders a priority by weighted chance', () => {
      const targets = [
        { provider: 'a', weight: 1, priority: 1 },
        { provider: 'b', weight: 1, priority: 0 },
        { provider: 'c', weight: 3, priority: 0 },
      ];
      const r = router([provider('a', [ok]), provider('b', [ok]), provider('c', [ok])], targets);
      expect(r.order('m').map((t) => t.provider)).toEqual(['b', 'c', 'a']);
    });
  });
});
