import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import {
  HEADERS,
  RETRYABLE_CODES,
  RegattaError,
  type Contract,
  type ReplyOf,
  type RequestOf,
} from '@regatta/contracts';
import { injectTraceContext, tracer } from '@regatta/telemetry';
import { type Bus, type Headers } from './bus.js';
import { messagingMetrics } from './metrics.js';
import { currentScope, remainingMs } from './scope.js';
import { FRAME_HEADER, STATUS_HEADER, decodeError, decodeJson, encodeJson } from './wire.js';

export interface RequestOptions {
  /** Upper bound for this call; the current request's remaining deadline lowers it further. */
  timeoutMs?: number;
  /** Extra headers (request id and tenant come from the current request scope by default). */
  headers?: Record<string, string>;
  /** Retry once on another replica when the failure is retryable and the contract is idempotent. */
  retry?: boolean;
  signal?: AbortSignal;
}

export interface RpcClientOptions {
  bus: Bus;
  /** Deadline of a call made outside any request scope and without `timeoutMs`. */
  defaultTimeoutMs?: number;
  /** Fraction of calls that may be retries (retry budget), e.g. 0.1. */
  retryBudget?: number;
}

/** A validated reply and, when they say the same, the JSON bytes it arrived as. */
export interface EncodedReply<T> {
  reply: T;
  bytes: Uint8Array | undefined;
}

/**
 * The one way to call another service: applies a deadline (never more than the caller has
 * left), sends it and the trace context in headers, validates replies against the contract,
 * and turns error replies back into typed RegattaErrors.
 */
export class RpcClient {
  private calls = 0;
  private retries = 0;

  constructor(private readonly options: RpcClientOptions) {}

  get bus(): Bus {
    return this.options.bus;
  }

  /** Sends one request and returns its validated reply. */
  async request<C extends Contract>(
    c: C,
    data: RequestOf<C>,
    opts: RequestOptions = {},
  ): Promise<ReplyOf<C>> {
    return (await this.requestEncoded(c, data, opts)).reply;
  }

  /**
   * Like {@link request}, and also hands back the JSON bytes the reply arrived as, for a caller that
   * forwards the reply unchanged (the gateway answering HTTP with a large reply) instead of encoding it
   * again. `bytes` is set only when validation left the parsed value as it was, so the bytes say exactly
   * what `reply` says.
   */
  async requestEncoded<C extends Contract>(
    c: C,
    data: RequestOf<C>,
    opts: RequestOptions = {},
  ): Promise<EncodedReply<ReplyOf<C>>> {
    try {
      return await this.attempt(c, data, opts);
    } catch (err) {
      if (!this.shouldRetry(c, err, opts)) throw err;
      this.retries++;
      messagingMetrics.clientRetries.inc({ subject: c.subject });
      return this.attempt(c, data, opts);
    }
  }

  private shouldRetry(c: Contract, err: unknown, opts: RequestOptions): boolean {
    if (!opts.retry || !c.idempotent || !(err instanceof RegattaError) || !RETRYABLE_CODES.has(err.code))
      return false;
    if (remainingMs() <= 1) return false;
    const budget = this.options.retryBudget ?? 0.1;
    // A minimum of 3 retries keeps low-traffic callers retrying; beyond it retries stay a fraction of calls.
    return this.retries < 3 || this.retries < budget * this.calls;
  }

  private timeoutFor(opts: RequestOptions, subject: string): number {
    const limit = Math.min(opts.timeoutMs ?? this.options.defaultTimeoutMs ?? 5_000, remainingMs());
    // Under a millisecond left is no time to call anyone (and the header carries whole milliseconds).
    if (limit < 1) throw new RegattaError('DEADLINE_EXCEEDED', `deadline passed before calling ${subject}`);
    return Math.floor(limit);
  }

  private headersFor(timeoutMs: number, opts: RequestOptions): Headers {
    const headers: Headers = new Map([[HEADERS.timeoutMs, String(timeoutMs)]]);
    const scope = currentScope();
    if (scope?.requestId) headers.set(HEADERS.requestId, scope.requestId);
    if (scope?.tenant) headers.set(HEADERS.tenant, scope.tenant);
    for (const [k, v] of Object.entries(opts.headers ?? {})) headers.set(k.toLowerCase(), v);
    injectTraceContext(headers);
    return headers;
  }

  private async attempt<C extends Contract>(
    c: C,
    data: RequestOf<C>,
    opts: RequestOptions,
  ): Promise<EncodedReply<ReplyOf<C>>> {
    this.calls++;
    const timeoutMs = this.timeoutFor(opts, c.subject);
    const started = performance.now();
    const span = tracer().startSpan(`${c.subject} send`, {
      kind: SpanKind.CLIENT,
      attributes: { 'messaging.destination.name': c.subject, 'messaging.system': 'nats' },
    });
    let outcome = 'ok';
    try {
      return await context.with(trace.setSpan(context.active(), span), async () => {
        const reply = await this.options.bus.request(
          c.subject,
          encodeJson(data),
          this.headersFor(timeoutMs, opts),
          timeoutMs,
        );
        if (reply.headers.get(STATUS_HEADER) === 'error') throw decodeError(reply.data);
        const raw = decodeJson(reply.data);
        const value = this.validReply(c, c.reply, raw) as ReplyOf<C>;
        return { reply: value, bytes: value === raw ? reply.data : undefined };
      });
    } catch (err) {
      const e = err instanceof RegattaError ? err : RegattaError.from(err);
      outcome = e.code;
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
      throw e;
    } finally {
      span.end();
      messagingMetrics.clientDuration.observe(
        { subject: c.subject, outcome },
        (performance.now() - started) / 1000,
      );
    }
  }

  private parseReply(c: Contract, schema: Contract['reply'], data: Uint8Array): unknown {
    return this.validReply(c, schema, decodeJson(data));
  }

  private validReply(c: Contract, schema: Contract['reply'], raw: unknown): unknown {
    const parsed = schema.safeParse(raw);
    if (!parsed.success)
      throw new RegattaError('INTERNAL', `reply on ${c.subject} does not match its contract`);
    return parsed.data;
  }

  /**
   * Asks every replica serving a broadcast contract and returns the replies that arrive within
   * `windowMs` (error replies included as RegattaErrors); UNAVAILABLE when none serves it.
   */
  async gather<C extends Contract>(
    c: C,
    data: RequestOf<C>,
    opts: { windowMs?: number } = {},
  ): Promise<(ReplyOf<C> | RegattaError)[]> {
    const windowMs = this.timeoutFor({ timeoutMs: opts.windowMs ?? 500 }, c.subject);
    const replies = await this.options.bus.gather(
      c.subject,
      encodeJson(data),
      this.headersFor(windowMs, {}),
      windowMs,
    );
    return replies.map((reply) => {
      try {
        if (reply.headers.get(STATUS_HEADER) === 'error') return decodeError(reply.data);
        return this.parseReply(c, c.reply, reply.data) as ReplyOf<C>;
      } catch (err) {
        return RegattaError.from(err);
      }
    });
  }

  /**
   * Sends a streaming request and yields each chunk (validated against `contract.chunk`).
   * Breaking out of the loop (or aborting `signal`) stops listening; `timeoutMs` bounds the
   * silence between chunks.
   */
  async *stream<C extends Contract>(
    c: C,
    data: RequestOf<C>,
    opts: RequestOptions = {},
  ): AsyncGenerator<unknown> {
    const timeoutMs = this.timeoutFor(opts, c.subject);
    const headers = this.headersFor(timeoutMs, opts);
    headers.set(HEADERS.stream, '1');
    const schema = c.chunk ?? c.reply;
    for await (const frame of this.options.bus.requestStream(
      c.subject,
      encodeJson(data),
      headers,
      timeoutMs,
      opts.signal,
    )) {
      const kind =
        frame.headers.get(FRAME_HEADER) ?? (frame.headers.get(STATUS_HEADER) === 'error' ? 'error' : 'chunk');
      if (kind === 'end') return;
      if (kind === 'error') throw decodeError(frame.data);
      yield this.parseReply(c, schema, frame.data);
    }
  }
}
