import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module } from '@nestjs/common';
import { type INestMicroservice } from '@nestjs/common';
import { HEALTH } from '@regatta/contracts';
import { HealthRegistry, createHealthController, startMicroservice } from '@regatta/runtime';
import { SpanRecorder, startTracing, stopTracing } from '@regatta/telemetry';
import { serviceUrls } from '@regatta/testing';
import { NatsBus } from '@regatta/transport';
import { type TestGateway, startTestGateway } from './testing/harness.js';

@Module({
  controllers: [createHealthController(HEALTH.features)],
  providers: [{ provide: HealthRegistry, useValue: new HealthRegistry('features') }],
})
class FeaturesHealthModule {}

describe('one trace from the HTTP request through NATS to the service', () => {
  const recorder = new SpanRecorder();
  let gateway: TestGateway;
  let service: INestMicroservice;
  let gatewayBus: NatsBus;
  let serviceBus: NatsBus;

  beforeAll(async () => {
    process.env.OTEL_METRICS_EXPORTER = 'none';
    startTracing({ serviceName: 'trace-test', spanProcessors: [recorder.processor] });
    const url = serviceUrls().nats;
    // Separate connections, as separate processes have: the trace can only travel in headers.
    gatewayBus = await NatsBus.connect({ url, name: 'trace-gateway' });
    serviceBus = await NatsBus.connect({ url, name: 'trace-features' });
    ({ app: service } = await startMicroservice({
      service: 'trace-features',
      module: FeaturesHealthModule,
      bus: serviceBus,
      contracts: [HEALTH.features],
    }));
    gateway = await startTestGateway({ bus: gatewayBus });
  });
  afterAll(async () => {
    await gateway.close();
    await service.close();
    await Promise.all([gatewayBus.close(), serviceBus.close()]);
    await stopTracing();
  });

  it('continues the caller trace in the gateway, the NATS call and the handler', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await gateway.request('/v1/fleet/features', {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(res.status).toBe(200);
    const [http, send, handled] = await recorder.waitFor([
      'GET /v1/fleet/:service',
      'features.health.v1 send',
      'features.health.v1 process',
    ]);
    expect([http, send, handled].map((s) => s?.spanContext().traceId)).toEqual([traceId, traceId, traceId]);
    expect(http!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(send!.parentSpanContext?.spanId).toBe(http!.spanContext().spanId);
    expect(handled!.parentSpanContext?.spanId).toBe(send!.spanContext().spanId);
  });

  it('links latency buckets to traces with exemplars in OpenMetrics', async () => {
    const res = await fetch(`${gateway.url}/metrics`, {
      headers: { accept: 'application/openmetrics-text; version=1.0.0' },
    });
    const body = await res.text();
    expect(res.headers.get('content-type')).toContain('application/openmetrics-text');
    expect(body).toMatch(
      /api_request_duration_seconds_bucket\{[^}]*route="\/v1\/fleet\/:service"[^}]*\} \d+ # \{trace_id="[0-9a-f]{32}"\}/,
    );
    expect(body).toContain('# TYPE api_requests counter');
    expect(body).not.toContain('api_requests_total_total');
  });
});
