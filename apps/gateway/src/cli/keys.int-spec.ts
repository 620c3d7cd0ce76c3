import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type MicroserviceOptions } from '@nestjs/microservices';
import { GATEWAY } from '@regatta/contracts';
import { serviceUrls } from '@regatta/testing';
import { NatsBus, PassThroughRpcFilter, RegattaServer } from '@regatta/transport';
import { announceOverNats } from './keys.js';

const SHARED = serviceUrls();

@Module({})
class EmptyModule {}

describe('keys CLI revocation over real NATS', () => {
  const heard: string[][] = [[], []];
  const buses: NatsBus[] = [];
  const apps: INestMicroservice[] = [];

  beforeAll(async () => {
    // Two gateway processes' worth of listeners, each on its own connection.
    for (const seen of heard) {
      const bus = await NatsBus.connect({ url: SHARED.nats, name: 'keys-cli-test-gateway' });
      const server = new RegattaServer({ bus, service: 'gateway', contracts: [GATEWAY.keyRevoked] });
      server.addRoute(GATEWAY.keyRevoked.subject, (request) => {
        seen.push((request as { key_id: string }).key_id);
        return { forgotten: 1 };
      });
      const app = await NestFactory.createMicroservice<MicroserviceOptions>(EmptyModule, {
        strategy: server,
        logger: false,
      });
      app.useGlobalFilters(new PassThroughRpcFilter());
      await app.listen();
      buses.push(bus);
      apps.push(app);
    }
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    for (const bus of buses) await bus.close();
  });

  it('reaches every gateway process and counts the answers', async () => {
    const key = `key_cli_${process.pid}`;
    // At least these two: another gateway on the shared NATS would answer too.
    expect(await announceOverNats(SHARED.nats, key)).toBeGreaterThanOrEqual(2);
    expect(heard).toEqual([[key], [key]]);
  });

  it('answers undefined, without failing, when NATS cannot be reached', async () => {
    expect(await announceOverNats('nats://127.0.0.1:1', 'key_nowhere')).toBeUndefined();
  });
});
