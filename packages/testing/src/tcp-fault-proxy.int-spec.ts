import net from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { serviceUrls } from './services.js';
import { TcpFaultProxy } from './tcp-fault-proxy.js';

/** Sends one inline Redis command over a fresh connection and returns the first reply line. */
function redisCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (data: string) => {
      reply += data;
      if (reply.includes('\r\n')) {
        socket.end();
        resolve(reply.split('\r\n')[0]!);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed before a reply (got "${reply}")`)));
  });
}

describe(`${TcpFaultProxy.name} in front of the real Redis`, () => {
  let proxy: TcpFaultProxy | undefined;

  afterEach(async () => {
    await proxy?.stop();
  });

  it('forwards commands, refuses them while cut, and forwards again after restore', async () => {
    proxy = await TcpFaultProxy.forUrl(serviceUrls().redis).start();
    expect(await redisCommand(proxy.port, 'PING')).toBe('+PONG');

    proxy.cut();
    await expect(redisCommand(proxy.port, 'PING')).rejects.toThrow(/ECONNRESET|closed before a reply/);

    proxy.restore();
    expect(await redisCommand(proxy.port, 'ECHO regatta')).toBe('$7');
  });

  it('adds the configured latency to a round trip', async () => {
    proxy = await TcpFaultProxy.forUrl(serviceUrls().redis, { latencyMs: 40 }).start();
    const started = Date.now();
    expect(await redisCommand(proxy.port, 'PING')).toBe('+PONG');
    // One way out and one way back, each delayed.
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
  });
});
