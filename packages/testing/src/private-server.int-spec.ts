import net from 'node:net';
import { afterAll, describe, expect, it } from '@jest/globals';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { PrivateServer, eventually, freePort } from './private-server.js';

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe(PrivateServer.name, () => {
  const started: PrivateServer[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.kill()));
  });

  it('runs a redis-server that can be killed as a crash and started again on the same port', async () => {
    const redis = await PrivateServer.start('redis');
    started.push(redis);
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await client.connect();
    expect(await client.set('k', 'v')).toBe('OK');
    client.disconnect();

    await redis.kill();
    expect(redis.running).toBe(false);
    expect(await accepts(redis.port)).toBe(false);

    await redis.restart();
    const again = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await again.connect();
    // The server keeps nothing on disk: a restart is a fresh, empty server.
    expect(await again.get('k')).toBeNull();
    again.disconnect();
  });

  it('runs a nats-server clients can use', async () => {
    const nats = await PrivateServer.start('nats');
    started.push(nats);
    expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
    const nc = await connect({ servers: nats.url });
    const sub = nc.subscribe('ping');
    const got = (async () => {
      for await (const m of sub) return m.string();
      return undefined;
    })();
    nc.publish('ping', 'pong');
    expect(await got).toBe('pong');
    await nc.close();
  });
});

describe(eventually.name, () => {
  it('waits for a condition and names what it waited for when it gives up', async () => {
    let n = 0;
    await eventually(() => ++n >= 3, 'three polls', 1_000, 1);
    expect(n).toBe(3);
    await expect(eventually(() => Promise.resolve(false), 'never', 50, 5)).rejects.toThrow(
      'timed out after 50 ms waiting for never',
    );
  });

  it('finds a port nothing listens on', async () => {
    expect(await accepts(await freePort())).toBe(false);
  });
});
