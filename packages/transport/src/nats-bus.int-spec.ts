import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { contract } from '@regatta/contracts';
import { TcpFaultProxy } from '@regatta/testing';
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
