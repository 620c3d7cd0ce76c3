import { afterEach, describe, expect, it } from '@jest/globals';
import { Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type MicroserviceOptions } from '@nestjs/microservices';
import { HEADERS, RegattaError, contract } from '@regatta/contracts';
import { getRegistry } from '@regatta/telemetry';
import { z } from 'zod';
import { type Bus, type Headers, type IncomingMessage } from './bus.js';
import { currentScope } from './scope.js';
import {
  PassThroughRpcFilter,
  RegattaServer,
  type RegattaServerOptions,
  type RouteHandler,
} from './server.js';
import { EncodedJson, STATUS_HEADER, decodeJson, encodeJson } from './wire.js';

const Square = contract({
  subject: 'test.square.v1',
  request: z.object({ n: z.number() }).strict(),
  reply: z.object({ n: z.number() }),
});

interface Sent {
  body: unknown;
  status: string | undefined;
}

/**
 * A bus that hands messages to the server synchronously, many in one call, the way one socket read of
 * the NATS client delivers a burst; replies are collected in order.
 */
class BurstBus {
  readonly kind = 'in-process' as const;
  readonly replies: Sent[] = [];
  private readonly handlers = new Map<string, (msg: IncomingMessage) => void>();

  subscribe(subject: string, _queue: string | undefined, handler: (msg: IncomingMessage) => void) {
    this.handlers.set(subject, handler);
    return { drain: () => Promise.resolve() };
  }

  flush() {
    return Promise.resolve();
  }

  /** Delivers every body in one synchronous call. */
  burst(subject: string, bodies: unknown[], headers: Headers = new Map()): void {
    const handler = this.handlers.get(subject);
    if (!handler) throw new Error(`nothing subscribed to ${subject}`);
    for (const body of bodies) {
      handler({
        subject,
        data: encodeJson(body),
        headers,
        replyable: true,
        // As the client reads it: an error header, or none for success.
        reply: (data, h) =>
          this.replies.push({
            body: decodeJson(data),
            status: h.get(STATUS_HEADER) ?? (h.size === 0 ? 'ok' : '?'),
          }),
      });
    }
  }

  async until(count: number): Promise<void> {
    for (let i = 0; i < 500 && this.replies.length < count; i++) await new Promise((r) => setTimeout(r, 2));
  }
}

@Module({})
class EmptyModule {}

describe(RegattaServer.name, () => {
  let app: INestMicroservice | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function serve(
    bus: BurstBus,
    route: RouteHandler,
    options: Partial<RegattaServerOptions> = {},
  ): Promise<RegattaServer> {
    const server = new RegattaServer({
      bus: bus as unknown as Bus,
      service: 'test',
      contracts: [Square],
      ...options,
    });
    app = await NestFactory.createMicroservice<MicroserviceOptions>(EmptyModule, {
      strategy: server,
      logger: false,
    });
    app.useGlobalFilters(new PassThroughRpcFilter());
    server.addRoute(Square.subject, route);
    await app.listen();
    return server;
  }

  it('serves a direct route with contract validation and typed errors', async () => {
    const bus = new BurstBus();
    await serve(bus, (data) => {
      const { n } = data as { n: number };
      if (n < 0) throw new RegattaError('INVALID_ARGUMENT', `n must not be negative, got ${n}`);
      return Promise.resolve({ n: n * n });
    });
    bus.burst(Square.subject, [{ n: 3 }, { n: 'x' }, { n: -1 }]);
    await bus.until(3);
    expect(bus.replies[0]).toEqual({ body: { n: 9 }, status: 'ok' });
    expect(bus.replies[1]!.status).toBe('error');
    expect(bus.replies[1]!.body).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(JSON.stringify(bus.replies[1]!.body)).toContain('n');
    expect(bus.replies[2]).toEqual({
      body: expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'n must not be negative, got -1' }),
      status: 'error',
    });
  });

  it('sends a route reply already encoded as JSON as its bytes, unchanged', async () => {
    const bus = new BurstBus();
    const raw: Uint8Array[] = [];
    await serve(bus, (data) => {
      const { n } = data as { n: number };
      // Spacing JSON.stringify would not produce: the bytes must arrive as given.
      return new EncodedJson(Buffer.from(`{ "n" : ${n * 2} }`));
    });
    const handler = (bus as unknown as { handlers: Map<string, (m: IncomingMessage) => void> }).handlers.get(
      Square.subject,
    )!;
    handler({
      subject: Square.subject,
      data: encodeJson({ n: 4 }),
      headers: new Map(),
      replyable: true,
      reply: (data, h) => {
        raw.push(data);
        expect(h.size).toBe(0);
      },
    });
    for (let i = 0; i < 500 && raw.length === 0; i++) await new Promise((r) => setTimeout(r, 2));
    expect(Buffer.from(raw[0]!).toString('utf8')).toBe('{ "n" : 8 }');
  });

  it('runs handlers in the request scope by default, and without it when requestScope is off', async () => {
    const seen: { scoped: boolean; remaining: number }[] = [];
    const route: RouteHandler = (_data, ctx) => {
      seen.push({ scoped: currentScope()?.deadline === ctx.deadline, remaining: ctx.deadline - Date.now() });
      return { n: 0 };
    };
    const headers: Headers = new Map([[HEADERS.timeoutMs, '300']]);
    const scoped = new BurstBus();
    await serve(scoped, route);
    scoped.burst(Square.subject, [{ n: 1 }], headers);
    await scoped.until(1);
    await app!.close();

    const leaf = new BurstBus();
    await serve(leaf, route, { requestScope: false });
    leaf.burst(Square.subject, [{ n: 1 }], headers);
    await leaf.until(1);

    expect(seen.map((s) => s.scoped)).toEqual([true, false]);
    for (const s of seen) {
      expect(s.remaining).toBeLessThanOrEqual(300);
      expect(s.remaining).toBeGreaterThan(200);
    }
  });

  it("refuses a malformed deadline header as the caller's error, naming it", async () => {
    const bus = new BurstBus();
    let ran = 0;
    await serve(bus, () => ({ n: ++ran }));
    for (const bad of ['abc', '-5', '0', '1e309', ''])
      bus.burst(Square.subject, [{ n: 1 }], new Map([[HEADERS.timeoutMs, bad]]));
    bus.burst(Square.subject, [{ n: 1 }], new Map([[HEADERS.timeoutMs, '250.5']]));
    await bus.until(6);
    expect(bus.replies.slice(0, 5)).toEqual(
      ['abc', '-5', '0', '1e309', ''].map((bad) => ({
        status: 'error',
        body: expect.objectContaining({
          code: 'INVALID_ARGUMENT',
          message: `header ${HEADERS.timeoutMs} must be a positive number of milliseconds, got ${JSON.stringify(bad)}`,
        }),
      })),
    );
    // A fractional number of milliseconds is a deadline like any other; only that request ran.
    expect(bus.replies[5]).toEqual({ status: 'ok', body: { n: 1 } });
    expect(ran).toBe(1);
  });

  it('starts a burst in slices, letting timers run in between, and answers every request in order', async () => {
    const bus = new BurstBus();
    const started: number[] = [];
    await serve(
      bus,
      (data) => {
        const spinUntil = performance.now() + 0.2;
        while (performance.now() < spinUntil);
        started.push((data as { n: number }).n);
        return { n: (data as { n: number }).n };
      },
      { sliceMs: 2 },
    );
    let startedWhenTimerFired = -1;
    setTimeout(() => (startedWhenTimerFired = started.length), 0);
    const n = 200; // 200 x 0.2 ms = 40 ms of handler work in one delivery
    bus.burst(
      Square.subject,
      Array.from({ length: n }, (_, i) => ({ n: i })),
    );
    await bus.until(n);
    expect(bus.replies.map((r) => (r.body as { n: number }).n)).toEqual(started);
    expect(started).toEqual(Array.from({ length: n }, (_, i) => i));
    // The timer fired while most of the burst was still waiting, not after all of it.
    expect(startedWhenTimerFired).toBeGreaterThan(0);
    expect(startedWhenTimerFired).toBeLessThan(n / 2);
  });

  it('waits for a burst still in its inbox when it closes', async () => {
    const bus = new BurstBus();
    const server = await serve(
      bus,
      async (data) => {
        await new Promise((r) => setTimeout(r, 5));
        return { n: (data as { n: number }).n };
      },
      { sliceMs: 0 },
    );
    bus.burst(
      Square.subject,
      Array.from({ length: 50 }, (_, i) => ({ n: i })),
    );
    expect(server.inFlightCount).toBe(50);
    await app!.close();
    app = undefined;
    expect(server.inFlightCount).toBe(0);
    expect(bus.replies).toHaveLength(50);
    expect(bus.replies.every((r) => r.status === 'ok')).toBe(true);
  });

  it('reports requests in flight per service when scraped, and stops once closed', async () => {
    const inFlight = async (): Promise<number | undefined> => {
      const metric = await getRegistry().getSingleMetric('messaging_server_in_flight')!.get();
      return metric.values.find((v) => v.labels.service === 'gauge-test')?.value;
    };
    const bus = new BurstBus();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    await serve(
      bus,
      async () => {
        await held;
        return { n: 0 };
      },
      { service: 'gauge-test' },
    );
    bus.burst(Square.subject, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(await inFlight()).toBe(3);
    release();
    await bus.until(3);
    expect(await inFlight()).toBe(0);
    await app!.close();
    app = undefined;
  });
});
