import {
  context,
  propagation,
  trace,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  NoopSpanProcessor,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { createLogger } from './logger.js';

export interface TracingOptions {
  serviceName: string;
  /** OTLP/HTTP endpoint; spans are exported only when it is set. */
  otlpEndpoint?: string | undefined;
  /** Extra processors (tests pass a {@link SpanRecorder}'s). */
  spanProcessors?: SpanProcessor[];
}

let sdk: NodeSDK | undefined;
let exporting = false;

/** Whether finished spans leave the process (an OTLP endpoint or a span processor was given). */
export function tracingExports(): boolean {
  return exporting;
}

/**
 * Starts OpenTelemetry tracing once per process. Spans are always created (so logs and
 * messages carry trace ids); they leave the process only when an OTLP endpoint is set.
 */
export function startTracing(options: TracingOptions): void {
  if (sdk) return;
  const processors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  const log = createLogger('telemetry');
  if (options.otlpEndpoint) {
    const url = new URL('/v1/traces', options.otlpEndpoint).toString();
    processors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) }));
    log.info({ url }, 'exporting traces over OTLP');
  } else {
    log.info('OTEL_EXPORTER_OTLP_ENDPOINT not set: traces stay in-process (ids in logs and headers only)');
  }
  exporting = processors.length > 0;
  if (processors.length === 0) processors.push(new NoopSpanProcessor());
  sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: processors,
    contextManager: new AsyncLocalStorageContextManager(),
    textMapPropagator: new W3CTraceContextPropagator(),
    instrumentations: [],
  });
  sdk.start();
}

/** Flushes and stops tracing (at shutdown). */
export async function stopTracing(): Promise<void> {
  const current = sdk;
  sdk = undefined;
  exporting = false;
  await current?.shutdown();
}

/** The tracer every Regatta component uses. */
export function tracer() {
  return trace.getTracer('regatta');
}

type Carrier = Map<string, string> | Record<string, string>;

const setter: TextMapSetter<Carrier> = {
  set(carrier, key, value) {
    if (carrier instanceof Map) carrier.set(key, value);
    else carrier[key] = value;
  },
};

const getter: TextMapGetter<Carrier> = {
  get(carrier, key) {
    return carrier instanceof Map ? carrier.get(key) : carrier[key];
  },
  keys(carrier) {
    return carrier instanceof Map ? [...carrier.keys()] : Object.keys(carrier);
  },
};

/** Writes the active trace context (W3C `traceparent`/`tracestate`) into message headers. */
export function injectTraceContext(carrier: Carrier, ctx: Context = context.active()): void {
  propagation.inject(ctx, carrier, setter);
}

/** Reads a trace context from message headers. */
export function extractTraceContext(carrier: Carrier, ctx: Context = context.active()): Context {
  return propagation.extract(ctx, carrier, getter);
}

/**
 * Keeps finished spans in memory, for tests. A span reaches the exporter only after the process
 * resource's asynchronous attributes (host, process) are known, which can take a while on a busy
 * machine, and a server span may end just after its reply was read; so tests wait for the spans
 * they expect instead of reading whatever has arrived.
 */
export class SpanRecorder {
  private readonly exporter = new InMemorySpanExporter();
  readonly processor: SpanProcessor = new SimpleSpanProcessor({ exporter: this.exporter });

  /** Every span exported so far. */
  spans(): ReadableSpan[] {
    return this.exporter.getFinishedSpans();
  }

  /** The first exported span with each name, waiting up to `timeoutMs` for all of them. */
  async waitFor(names: readonly string[], timeoutMs = 5_000): Promise<ReadableSpan[]> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      await this.processor.forceFlush();
      const spans = this.spans();
      const found = names.map((name) => spans.find((s) => s.name === name));
      if (found.every((s) => s !== undefined)) return found;
      if (Date.now() >= until) {
        const missing = names.filter((_, i) => !found[i]);
        const seen = [...new Set(spans.map((s) => s.name))];
        throw new Error(
          `spans not finished within ${timeoutMs} ms: ${missing.join(', ')} (seen: ${seen.join(', ')})`,
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
