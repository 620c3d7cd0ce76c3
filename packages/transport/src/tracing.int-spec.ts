import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type INestMicroservice } from '@nestjs/common';
import { SpanRecorder, startTracing, stopTracing, tracer } from '@regatta/telemetry';
import { RpcClient } from './client.js';
import { NatsBus } from './nats-bus.js';
import { RegattaServer } from './server.js';
import { Echo, startTestService } from '../test/suite.js';

describe('trace propagation over NATS', () => {
  const recorder = new SpanRecorder();
  let callerBus: NatsBus;
  let serviceBus: NatsBus;
  let app: INestMicroservice;

  beforeAll(async () => {
    process.env.OTEL_METRICS_EXPORTER = 'none';
    startTracing({ serviceName: 'trace-test', spanProcessors: [recorder.processor] });
    const url = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
    // Two connections, as two processes would have: the context can only travel in headers.
    callerBus = await NatsBus.connect({ url, name: 'trace-caller' });
    serviceBus = await NatsBus.connect({ url, name: 'trace-service' });
    ({ app } = await startTestService(serviceBus, 'trace-test'));
  });
  afterAll(async () => {
    await app.close();
    await Promise.all([callerBus.close(), serviceBus.close()]);
    await stopTracing();
  });

  it('makes the caller span, the NATS send and the handler one trace', async () => {
    const client = new RpcClient({ bus: callerBus });
    const root = tracer().startSpan('POST /v1/decisions');
    const { context, trace } = await import('@opentelemetry/api');
    await context.with(trace.setSpan(context.active(), root), () => client.request(Echo, { text: 't' }));
    root.end();
    const [send, processSpan] = await recorder.waitFor(['test.echo.v1 send', 'test.echo.v1 process']);
    const traceId = root.spanContext().traceId;
    expect(send!.spanContext().traceId).toBe(traceId);
    expect(processSpan!.spanContext().traceId).toBe(traceId);
    expect(processSpan!.parentSpanContext?.spanId).toBe(send!.spanContext().spanId);
  });

  it('records the process span of a leaf service (no request scope) while spans are exported', async () => {
    const { Module } = await import('@nestjs/common');
    const { NestFactory } = await import('@nestjs/core');
    const { contract } = await import('@regatta/contracts');
    const { z } = await import('zod');
    const Leaf = contract({
      subject: 'test.leaf.v1',
      request: z.object({}),
      reply: z.object({ ok: z.boolean() }),
    });
    @Module({})
    class LeafModule {}
    const server = new RegattaServer({
      bus: serviceBus,
      service: 'trace-leaf',
      contracts: [Leaf],
      requestScope: false,
    });
    server.addRoute(Leaf.subject, () => ({ ok: true }));
    const leaf = await NestFactory.createMicroservice(LeafModule, { strategy: server, logger: false });
    await leaf.listen();
    try {
      const client = new RpcClient({ bus: callerBus });
      const root = tracer().startSpan('GET /v1/leaf');
      const { context, trace } = await import('@opentelemetry/api');
      await context.with(trace.setSpan(context.active(), root), () => client.request(Leaf, {}));
      root.end();
      const [processSpan] = await recorder.waitFor(['test.leaf.v1 process']);
      expect(processSpan!.spanContext().traceId).toBe(root.spanContext().traceId);
    } finally {
      await leaf.close();
    }
  });
});
