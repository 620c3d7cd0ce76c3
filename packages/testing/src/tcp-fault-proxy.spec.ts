import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { eventually } from './private-server.js';
import { RegattaError } from '@regatta/contracts';
import { TcpFaultProxy } from './tcp-fault-proxy.js';

/** A TCP echo server on an ephemeral port. */
async function startEchoServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A connected client that collects everything it receives and how it ended. */
async function connect(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  const state = { received: '', error: undefined as NodeJS.ErrnoException | undefined, closed: false };
  socket.setEncoding('utf8');
  socket.on('data', (data: string) => (state.received += data));
  socket.on('error', (err) => (state.error = err));
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      state.closed = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });
  return { socket, state, closed };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(TcpFaultProxy.name, () => {
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  let proxy: TcpFaultProxy;
  const clients: net.Socket[] = [];

  beforeEach(async () => {
    echo = await startEchoServer();
    proxy = await new TcpFaultProxy({ targetPort: echo.port }).start();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await proxy.stop();
    await echo.close();
  });

  async function client() {
    const c = await connect(proxy.port);
    clients.push(c.socket);
    return c;
  }

  describe('start', () => {
    it('listens on an ephemeral port and forwards bytes both ways', async () => {
      expect(proxy.port).toBeGreaterThan(0);
      expect(proxy.port).not.toBe(echo.port);
      const c = await client();
      c.socket.write('hello ');
      c.socket.write('world');
      await eventually(() => c.state.received === 'hello world', "c.state.received === 'hello world'");
      expect(proxy.activeConnections).toBe(1);
      expect(proxy.stats.accepted).toBe(1);
    });
  });

  describe('port', () => {
    it('throws INVALID_ARGUMENT before start', () => {
      const idle = new TcpFaultProxy({ targetPort: echo.port });
      expect(() => idle.port).toThrow(RegattaError);
      expect(() => idle.port).toThrow(/not started/);
    });
  });

  describe('cut', () => {
    it('resets live connections and refuses new ones until restore', async () => {
      const live = await client();
      live.socket.write('ping');
      await eventually(() => live.state.received === 'ping', "live.state.received === 'ping'");

      proxy.cut();
      await live.closed;
      expect(live.state.error?.code).toBe('ECONNRESET');
      expect(proxy.activeConnections).toBe(0);

      const refused = await client();
      refused.socket.write('anyone?');
      await refused.closed;
      expect(refused.state.received).toBe('');
      expect(proxy.stats).toMatchObject({ refused: 1, killed: 1 });

      proxy.restore();
      const after = await client();
      after.socket.write('back');
      await eventually(() => after.state.received === 'back', "after.state.received === 'back'");
      expect(proxy.mode).toBe('pass');
    });
  });

  describe('blackhole', () => {
    it('holds bytes without closing the connection, then delivers them in order on restore', async () => {
      const c = await client();
      proxy.blackhole();
      c.socket.write('one,');
      c.socket.write('two,');
      await sleep(100);
      expect(c.state.received).toBe('');
      expect(c.state.closed).toBe(false);
      c.socket.write('three');
      proxy.restore();
      await eventually(() => c.state.received === 'one,two,three', "c.state.received === 'one,two,three'");
    });
  });

  describe('setLatency', () => {
    it('delays each direction by the latency and keeps order when the latency drops', async () => {
      proxy.setLatency(60);
      const c = await client();
      const started = Date.now();
      c.socket.write('slow,');
      await sleep(20); // let the first chunk reach the proxy before the latency drops
      proxy.setLatency(0);
      c.socket.write('fast');
      await eventually(
        () => c.state.received.length === 'slow,fast'.length,
        "c.state.received.length === 'slow,fast'.length",
      );
      // The first chunk waited 60 ms on the way out; the second may not overtake it.
      expect(c.state.received).toBe('slow,fast');
      expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    });

    it('rejects a negative latency with INVALID_ARGUMENT', () => {
      expect(() => proxy.setLatency(-1)).toThrow(/latencyMs must be a non-negative number/);
    });
  });

  describe('urlFor', () => {
    it('points a service URL at the proxy and keeps credentials, path and query', () => {
      const url = proxy.urlFor('postgres://postgres:pw@db.internal:5432/test?sslmode=disable');
      expect(url).toBe(`postgres://postgres:pw@127.0.0.1:${proxy.port}/test?sslmode=disable`);
    });
  });

  describe('forUrl', () => {
    it('targets the host and port of a URL, using the scheme default port when none is given', async () => {
      const viaUrl = await TcpFaultProxy.forUrl(`tcp://127.0.0.1:${echo.port}`).start();
      try {
        const c = await connect(viaUrl.port);
        c.socket.write('x');
        await eventually(() => c.state.received === 'x', "c.state.received === 'x'");
        c.socket.destroy();
      } finally {
        await viaUrl.stop();
      }
      expect(() => TcpFaultProxy.forUrl('tcp://127.0.0.1')).toThrow(/no port/);
    });
  });

  describe('stop', () => {
    it('closes the connections and the listener', async () => {
      const c = await client();
      const port = proxy.port;
      await proxy.stop();
      await c.closed;
      const late = await connect(port);
      expect(late.state.error?.code).toBe('ECONNREFUSED');
    });
  });

  it('resets the client when the target is down', async () => {
    await echo.close();
    const c = await client();
    await c.closed;
    expect(c.state.received).toBe('');
    echo = await startEchoServer();
  });
});
