import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { InProcessBus, RpcClient, runWithScope } from '@regatta/transport';
import { PROBE, serveProbe, type ProbeCall } from '../testing/probe.js';
import { Downstream, serviceOfSubject } from './downstream.js';

async function failure(p: Promise<unknown>): Promise<RegattaError> {
  try {
    await p;
  } catch (err) {
    return err as RegattaError;
  }
  throw new Error('expected a failure');
}

describe(Downstream.name, () => {
  let bus: InProcessBus;
  let calls: ProbeCall[];
  let downstream: Downstream;

  beforeEach(() => {
    bus = new InProcessBus();
    calls = serveProbe(bus).calls;
    downstream = new Downstream(new RpcClient({ bus, defaultTimeoutMs: 200 }), {
      failures: 3,
      halfOpenAfterMs: 150,
    });
  });
  afterEach(async () => {
    await bus.close();
  });

  describe('request', () => {
    it('opens the breaker after consecutive failures and then fails fast without calling', async () => {
      for (let i = 0; i < 3; i++)
        expect((await failure(downstream.request(PROBE, { text: 'fail:INTERNAL' }))).code).toBe('INTERNAL');
      expect(downstream.state('probe')).toBe('open');
      const before = calls.length;
      const started = performance.now();
      const err = await failure(downstream.request(PROBE, { text: 'hello' }));
      expect(performance.now() - started).toBeLessThan(10);
      expect(calls.length).toBe(before);
      expect(err.code).toBe('UNAVAILABLE');
      expect(err.message).toContain('circuit breaker is open');
      expect(err.retryAfterS).toBe(1);
    });

    it('does not open the breaker on OVERLOADED (the service is shedding, not down)', async () => {
      for (let i = 0; i < 6; i++)
        expect((await failure(downstream.request(PROBE, { text: 'fail:OVERLOADED' }))).code).toBe(
          'OVERLOADED',
        );
      expect(downstream.state('probe')).toBe('closed');
      expect(await downstream.request(PROBE, { text: 'hello' })).toEqual({ text: 'hello' });
    });

    it('lets one probe through after halfOpenAfterMs and closes when it succeeds', async () => {
      for (let i = 0; i < 3; i++) await failure(downstream.request(PROBE, { text: 'fail:INTERNAL' }));
      await new Promise((r) => setTimeout(r, 170));
      expect(await downstream.request(PROBE, { text: 'back' })).toEqual({ text: 'back' });
      expect(downstream.state('probe')).toBe('closed');
      expect(await downstream.request(PROBE, { text: 'again' })).toEqual({ text: 'again' });
    });

    it('opens again when the probe fails', async () => {
      for (let i = 0; i < 3; i++) await failure(downstream.request(PROBE, { text: 'fail:INTERNAL' }));
      await new Promise((r) => setTimeout(r, 170));
      await failure(downstream.request(PROBE, { text: 'fail:INTERNAL' }));
      expect(downstream.state('probe')).toBe('open');
    });

    it('does not count errors that are the caller’s (the service answered)', async () => {
      for (let i = 0; i < 5; i++)
        expect((await failure(downstream.request(PROBE, { text: 'fail:INVALID_ARGUMENT' }))).code).toBe(
          'INVALID_ARGUMENT',
        );
      expect(downstream.state('probe')).toBe('closed');
    });

    it('does not count timeouts of calls that had almost no time', async () => {
      const deadline = Date.now() + 20;
      for (let i = 0; i < 4; i++) {
        const err = await failure(
          runWithScope({ deadline }, () => downstream.request(PROBE, { text: 'hang' })),
        );
        expect(err.code).toBe('DEADLINE_EXCEEDED');
      }
      expect(downstream.state('probe')).toBe('closed');
    });

    it('counts a hung service (full timeouts)', async () => {
      for (let i = 0; i < 3; i++)
        expect((await failure(downstream.request(PROBE, { text: 'hang' }, { timeoutMs: 120 }))).code).toBe(
          'DEADLINE_EXCEEDED',
        );
      expect(downstream.state('probe')).toBe('open');
    });

    it('retries an idempotent call once on UNAVAILABLE', async () => {
      let first = true;
      const flaky = new InProcessBus();
      flaky.subscribe(PROBE.subject, 'probe', (msg) => {
        if (first) {
          first = false;
          const e = new RegattaError('UNAVAILABLE', 'replica stopping').toWire();
          msg.reply(new TextEncoder().encode(JSON.stringify(e)), new Map([['regatta-status', 'error']]));
          return;
        }
        msg.reply(new TextEncoder().encode(JSON.stringify({ text: 'second' })), new Map());
      });
      const d = new Downstream(new RpcClient({ bus: flaky }), { failures: 3, halfOpenAfterMs: 100 });
      expect(await d.request(PROBE, { text: 'x' })).toEqual({ text: 'second' });
      await flaky.close();
    });

    it('keeps one breaker per service', async () => {
      for (let i = 0; i < 3; i++) await failure(downstream.request(PROBE, { text: 'fail:INTERNAL' }));
      expect(downstream.state('probe')).toBe('open');
      expect(downstream.state('inference')).toBe('closed');
    });
  });

  describe('stream', () => {
    it('yields the chunks of a stream', async () => {
      const chunks: unknown[] = [];
      for await (const chunk of downstream.stream(PROBE, { text: 'stream:x y' })) chunks.push(chunk);
      expect(chunks).toEqual([{ text: 'x' }, { text: 'y' }]);
    });

    it('counts a stream that fails to start', async () => {
      for (let i = 0; i < 3; i++) {
        const err = await failure(
          (async () => {
            for await (const _ of downstream.stream(PROBE, { text: 'fail:UNAVAILABLE' })) void _;
          })(),
        );
        expect(err.code).toBe('UNAVAILABLE');
      }
      expect(downstream.state('probe')).toBe('open');
    });
  });
});

describe(serviceOfSubject.name, () => {
  it('maps subjects to services', () => {
    expect(serviceOfSubject('inference.predict.v1')).toBe('inference');
    expect(serviceOfSubject('llm.chat.v1')).toBe('llm-proxy');
    expect(serviceOfSubject('features.get.v1')).toBe('features');
  });
});
