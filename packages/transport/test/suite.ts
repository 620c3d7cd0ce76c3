import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload, type MicroserviceOptions } from '@nestjs/microservices';
import { type INestMicroservice } from '@nestjs/common';
import { RegattaError, contract } from '@regatta/contracts';
import { Observable } from 'rxjs';
import { z } from 'zod';
import { type Bus } from '../src/bus.js';
import { RpcClient } from '../src/client.js';
import { currentScope, remainingMs, runWithScope } from '../src/scope.js';
import { PassThroughRpcFilter, RegattaContext, RegattaServer } from '../src/server.js';

export const Echo = contract({
  subject: 'test.echo.v1',
  request: z.object({ text: z.string(), delayMs: z.number().optional() }).strict(),
  reply: z.object({ text: z.string(), tenant: z.string().nullable(), remaining: z.number() }),
});
export const Fail = contract({
  subject: 'test.fail.v1',
  request: z.object({ kind: z.string() }),
  reply: z.object({}),
});
export const Who = contract({
  subject: 'test.who.v1',
  request: z.object({}),
  reply: z.object({ replica: z.string() }),
  broadcast: true,
});
export const Count = contract({
  subject: 'test.count.v1',
  request: z.object({ n: z.number().int() }),
  reply: z.object({ i: z.number() }),
  chunk: z.object({ i: z.number() }),
});

@Controller()
class TestController {
  private readonly replica = Math.random().toString(36).slice(2);

  @MessagePattern(Who.subject)
  who() {
    return { replica: this.replica };
  }

  @MessagePattern(Echo.subject)
  async echo(@Payload() data: { text: string; delayMs?: number }, @Ctx() ctx: RegattaContext) {
    if (data.delayMs) await new Promise((r) => setTimeout(r, data.delayMs));
    return { text: data.text, tenant: ctx.tenant ?? null, remaining: ctx.deadline - Date.now() };
  }

  @MessagePattern(Fail.subject)
  fail(@Payload() data: { kind: string }) {
    if (data.kind === 'typed') throw new RegattaError('NOT_FOUND', 'no such thing: x');
    throw new Error('secret internals');
  }

  @MessagePattern(Count.subject)
  count(@Payload() data: { n: number }) {
    return new Observable<{ i: number }>((sub) => {
      for (let i = 0; i < data.n; i++) sub.next({ i });
      sub.complete();
    });
  }
}

@Module({ controllers: [TestController] })
class TestModule {}

export async function startTestService(
  bus: Bus,
  service = 'test',
): Promise<{ app: INestMicroservice; server: RegattaServer }> {
  const server = new RegattaServer({
    bus,
    service,
    contracts: [Echo, Fail, Count, Who],
    shutdownGraceMs: 5_000,
  });
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(TestModule, {
    strategy: server,
    logger: false,
  });
  app.useGlobalFilters(new PassThroughRpcFilter());
  await app.listen();
  return { app, server };
}

/** The behaviour both buses must share, run once per bus kind. */
export function transportSuite(name: string, makeBus: () => Promise<Bus>) {
  describe(`${RegattaServer.name} + ${RpcClient.name} over ${name}`, () => {
    let bus: Bus;
    let app: INestMicroservice;
    let client: RpcClient;

    beforeAll(async () => {
      bus = await makeBus();
      ({ app } = await startTestService(bus));
      client = new RpcClient({ bus, defaultTimeoutMs: 2_000 });
    });
    afterAll(async () => {
      await app.close();
      await bus.close();
    });

    it('answers a request with the validated reply', async () => {
      const reply = await client.request(Echo, { text: 'hi' }, { headers: { 'regatta-tenant': 'acme' } });
      expect(reply.text).toBe('hi');
      expect(reply.tenant).toBe('acme');
    });

    it('hands back the reply bytes only when validation left the reply as it came', async () => {
      // z.object builds a new object (it drops unknown keys): the bytes may say more than the reply.
      const rebuilt = await client.requestEncoded(Echo, { text: 'hi' });
      expect(rebuilt.reply.text).toBe('hi');
      expect(rebuilt.bytes).toBeUndefined();
      // A check that returns its input unchanged: the bytes are the reply.
      const asIs = contract({
        subject: Echo.subject,
        request: Echo.request,
        reply: z.custom<{ text: string }>((v) => typeof (v as { text?: unknown } | null)?.text === 'string'),
      });
      const same = await client.requestEncoded(asIs, { text: 'hi' });
      expect(same.bytes).toBeDefined();
      expect(JSON.parse(new TextDecoder().decode(same.bytes))).toEqual(same.reply);
      expect(same.reply.text).toBe('hi');
    });

    it('rejects a request that breaks the contract with INVALID_ARGUMENT naming the field', async () => {
      const err = await client.request(Echo, { text: 5 } as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegattaError);
      expect((err as RegattaError).code).toBe('INVALID_ARGUMENT');
      expect((err as RegattaError).message).toContain('text');
    });

    it('carries typed errors across and hides untyped ones', async () => {
      const typed = (await client.request(Fail, { kind: 'typed' }).catch((e: unknown) => e)) as RegattaError;
      expect([typed.code, typed.message]).toEqual(['NOT_FOUND', 'no such thing: x']);
      const untyped = (await client.request(Fail, { kind: 'boom' }).catch((e: unknown) => e)) as RegattaError;
      expect(untyped.code).toBe('INTERNAL');
      expect(untyped.message).not.toContain('secret');
    });

    it('sends the remaining deadline of the current request, never more', async () => {
      const reply = await runWithScope({ deadline: Date.now() + 300 }, () =>
        client.request(Echo, { text: 'x' }, { timeoutMs: 10_000 }),
      );
      expect(reply.remaining).toBeLessThanOrEqual(300);
      expect(reply.remaining).toBeGreaterThan(100);
    });

    it('fails with DEADLINE_EXCEEDED when the service is slower than the deadline', async () => {
      const started = Date.now();
      const err = (await client
        .request(Echo, { text: 'x', delayMs: 500 }, { timeoutMs: 100 })
        .catch((e: unknown) => e)) as RegattaError;
      expect(err.code).toBe('DEADLINE_EXCEEDED');
      expect(Date.now() - started).toBeLessThan(400);
    });

    it('does not send at all when the deadline has already passed', async () => {
      const err = (await runWithScope({ deadline: Date.now() - 1 }, () =>
        client.request(Echo, { text: 'x' }),
      ).catch((e: unknown) => e)) as RegattaError;
      expect(err.code).toBe('DEADLINE_EXCEEDED');
      expect(currentScope()).toBeUndefined();
      expect(remainingMs()).toBe(Number.POSITIVE_INFINITY);
    });

    it('fails fast with UNAVAILABLE when nobody serves the subject', async () => {
      const Nobody = contract({ subject: 'test.nobody.v1', request: z.object({}), reply: z.object({}) });
      const started = Date.now();
      const err = (await client
        .request(Nobody, {}, { timeoutMs: 1_000 })
        .catch((e: unknown) => e)) as RegattaError;
      expect(err.code).toBe('UNAVAILABLE');
      expect(Date.now() - started).toBeLessThan(500);
    });

    it('streams every chunk in order and ends', async () => {
      const seen: unknown[] = [];
      for await (const chunk of client.stream(Count, { n: 5 })) seen.push(chunk);
      expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
    });

    it('gathers one reply from every replica of a broadcast subject', async () => {
      const { app: second } = await startTestService(bus, 'test');
      try {
        const replies = await client.gather(Who, {}, { windowMs: 300 });
        const replicas = replies.map((r) => (r as { replica: string }).replica);
        expect(new Set(replicas).size).toBe(2);
      } finally {
        await second.close();
      }
    });

    it('finishes in-flight requests when the server closes', async () => {
      const { app: second, server } = await startTestService(bus, 'test');
      const Drain = { ...Echo };
      const calls = Array.from({ length: 10 }, (_, i) =>
        client.request(Drain, { text: `r${i}`, delayMs: 200 }),
      );
      await new Promise((r) => setTimeout(r, 50));
      const closing = second.close();
      const replies = await Promise.allSettled(calls);
      await closing;
      expect(server.inFlightCount).toBe(0);
      expect(replies.filter((r) => r.status === 'rejected')).toEqual([]);
    });
  });
}
