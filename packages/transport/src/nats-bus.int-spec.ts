import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { type RegattaError, contract } from '@regatta/contracts';
import { PrivateServer, TcpFaultProxy, eventually } from '@regatta/testing';
import { Observable } from 'rxjs';
import { z } from 'zod';
import { RpcClient } from './client.js';
import { NatsBus } from './nats-bus.js';
import { RegattaServer } from './server.js';
import { transportSuite } from '../test/suite.js';

const url = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
transportSuite('NATS', () => NatsBus.connect({ url, name: 'transport-test' }));

@Module({})
class EmptyModule {}

describe('a service that has started listening over NATS', () => {
  // The service's connection is 40 ms slower each way than the caller's, so its subscriptions reach the
  // server well after the caller could send: listening must wait for the server to have them.
  let slow: TcpFaultProxy;
  let serviceBus: NatsBus;
  let callerBus: NatsBus;
  beforeAll(async () => {
    slow = await TcpFaultProxy.forUrl(url, { latencyMs: 40 }).start();
    [serviceBus, callerBus] = await Promise.all([
      NatsBus.connect({ url: slow.urlFor(url), name: 'listen-service' }),
      NatsBus.connect({ url, name: 'listen-caller' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([serviceBus.close(), callerBus.close()]);
    await slow.stop();
  });

  it('is reachable at once from another connection', async () => {
    const client = new RpcClient({ bus: callerBus, defaultTimeoutMs: 2_000 });
    for (let i = 0; i < 5; i++) {
      const Fresh = contract({
        subject: `listen${process.pid}x${i}.ping.v1`,
        request: z.object({}),
        reply: z.object({ i: z.number() }),
      });
      const server = new RegattaServer({ bus: serviceBus, service: 'listen-test', contracts: [Fresh] });
      server.addRoute(Fresh.subject, () => ({ i }));
      const app = await NestFactory.createMicroservice(EmptyModule, { strategy: server, logger: false });
      await app.listen();
      try {
        // No responders here would mean the subscription had not reached the server yet.
        await expect(client.request(Fresh, {})).resolves.toEqual({ i });
      } finally {
        await app.close();
      }
    }
  });
});

const Big = contract({
  subject: 'big.payload.v1',
  request: z.object({
    text: z.string(),
    reply_chars: z.number().int(),
    chunk_chars: z.array(z.number().int()),
  }),
  reply: z.object({ text: z.string() }),
  chunk: z.object({ text: z.string() }),
});

@Controller()
class BigController {
  @MessagePattern(Big.subject)
  big(@Payload() data: { reply_chars: number; chunk_chars: number[] }) {
    return new Observable<{ text: string }>((sub) => {
      for (const n of data.chunk_chars) sub.next({ text: 'c'.repeat(n) });
      sub.complete();
    });
  }
}

@Module({ controllers: [BigController] })
class BigModule {}

describe("messages larger than the NATS server's max_payload", () => {
  // A private server with the default max_payload (1 MiB), whatever the shared one is configured with.
  let nats: PrivateServer;
  let bus: NatsBus;
  let client: RpcClient;
  let close: () => Promise<void>;
  const MB = 1024 * 1024;

  beforeAll(async () => {
    nats = await PrivateServer.start('nats');
    bus = await NatsBus.connect({ url: nats.url, name: 'payload-test' });
    const server = new RegattaServer({ bus, service: 'payload-test', contracts: [Big] });
    server.addRoute('big.reply.v1', (req) => ({
      text: 'r'.repeat((req as { reply_chars: number }).reply_chars),
    }));
    const app = await NestFactory.createMicroservice(BigModule, { strategy: server, logger: false });
    await app.listen();
    close = () => app.close();
    client = new RpcClient({ bus, defaultTimeoutMs: 10_000 });
  });
  afterAll(async () => {
    await close?.();
    await bus?.close();
    await nats?.kill();
  });

  const BigReply = contract({ ...Big, subject: 'big.reply.v1' });
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e as RegattaError,
    );

  it('refuses a request at once with PAYLOAD_TOO_LARGE saying its size and the limit', async () => {
    const started = performance.now();
    const err = await failure(
      client.request(BigReply, { text: 'x'.repeat(2 * MB), reply_chars: 1, chunk_chars: [] }),
    );
    expect(err).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(err!.message).toMatch(
      /^request on big\.reply\.v1 is \d+ bytes and its headers, more than the NATS server's max_payload of 1048576 bytes$/,
    );
    expect(performance.now() - started).toBeLessThan(5_000); // not the 10 s timeout
  });

  it('answers a reply too large for the bus with PAYLOAD_TOO_LARGE instead of leaving the caller to time out', async () => {
    const started = performance.now();
    const err = await failure(client.request(BigReply, { text: '', reply_chars: 2 * MB, chunk_chars: [] }));
    expect(err).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(err!.message).toMatch(
      /^reply on big\.reply\.v1 is \d+ bytes and its headers, more than the NATS server's max_payload/,
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    // The service is unharmed and still answers.
    await expect(client.request(BigReply, { text: '', reply_chars: 3, chunk_chars: [] })).resolves.toEqual({
      text: 'rrr',
    });
  });

  it('ends a stream whose chunk is too large with that error, after the chunks before it and without an end', async () => {
    const seen: unknown[] = [];
    const err = await failure(
      (async () => {
        for await (const chunk of client.stream(Big, {
          text: '',
          reply_chars: 0,
          chunk_chars: [2, 2 * MB, 3],
        }))
          seen.push(chunk);
      })(),
    );
    expect(seen).toEqual([{ text: 'cc' }]);
    expect(err).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(err!.message).toMatch(/^reply on big\.payload\.v1 is \d+ bytes/);
  });
});

describe('a NATS server that stops answering (a partition: the socket stays open and silent)', () => {
  it('is noticed by unanswered pings, reported down, and left for a new connection once the server answers', async () => {
    const proxy = await TcpFaultProxy.forUrl(url).start();
    const bus = await NatsBus.connect({ url: proxy.urlFor(url), name: 'ping-test', pingIntervalMs: 200 });
    try {
      expect(bus.health()).toEqual({ status: 'ok' });
      proxy.blackhole();
      // Three pings 200 ms apart go unanswered: well within 5 s, where nats.js's defaults take 4 minutes.
      await eventually(
        () => bus.health().status === 'down',
        'the silent connection to be given up',
        5_000,
        50,
      );
      expect(bus.health().detail).toContain('reconnecting');
      proxy.restore();
      await eventually(() => bus.health().status === 'ok', 'a new connection', 15_000, 100);
      await expect(bus.flush()).resolves.toBeUndefined();
    } finally {
      await bus.close();
      await proxy.stop();
    }
  });
});
