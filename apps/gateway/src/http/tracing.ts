import { type Span, SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { extractTraceContext, tracer } from '@regatta/telemetry';
import { type FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's server span; NATS calls made for it are its children. */
    regattaSpan: Span | undefined;
  }
}

/**
 * One span per HTTP request, continuing the caller's W3C trace context when it sends one. The
 * span is made current again before the handler (body parsing runs outside it), so every NATS
 * call of the request joins the same trace.
 */
export function installTracing(fastify: FastifyInstance): void {
  fastify.decorateRequest('regattaSpan', undefined);
  fastify.addHook('onRequest', (req, _reply, done) => {
    const carrier: Record<string, string> = {};
    for (const name of ['traceparent', 'tracestate']) {
      const value = req.headers[name];
      if (typeof value === 'string') carrier[name] = value;
    }
    const parent = extractTraceContext(carrier);
    const span = tracer().startSpan(
      `${req.method} ${req.routeOptions.url ?? 'unmatched'}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method, 'http.route': req.routeOptions.url ?? '' },
      },
      parent,
    );
    req.regattaSpan = span;
    context.with(trace.setSpan(parent, span), done);
  });
  fastify.addHook('preHandler', (req, _reply, done) => {
    if (!req.regattaSpan) return done();
    context.with(trace.setSpan(context.active(), req.regattaSpan), done);
  });
  fastify.addHook('onResponse', (req, reply, done) => {
    const span = req.regattaSpan;
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}
