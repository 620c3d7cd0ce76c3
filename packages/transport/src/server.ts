import { type ArgumentsHost, Catch, type RpcExceptionFilter } from '@nestjs/common';
import {
  BaseRpcContext,
  type CustomTransportStrategy,
  type MessageHandler,
  Server,
} from '@nestjs/microservices';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { HEADERS, RegattaError, parseOrThrow, type Contract } from '@regatta/contracts';
import { createLogger, extractTraceContext, tracer, type Logger } from '@regatta/telemetry';
import { type Observable, lastValueFrom, throwError } from 'rxjs';
import { type Bus, type BusSubscription, type Headers, type IncomingMessage } from './bus.js';
import { messagingMetrics } from './metrics.js';
import { runWithScope } from './scope.js';
import { FRAME_HEADER, STATUS_HEADER, decodeJson, encodeJson, errorReply } from './wire.js';

/** What a handler can read with `@Ctx()`: subject, headers and deadline of the message. */
export class RegattaContext extends BaseRpcContext<[string, Headers, number]> {
  get subject(): string {
    return this.args[0];
  }
  get headers(): Headers {
    return this.args[1];
  }
  /** Absolute deadline, epoch ms. */
  get deadline(): number {
    return this.args[2];
  }
  get tenant(): string | undefined {
    return this.args[1].get(HEADERS.tenant);
  }
}

export interface RegattaServerOptions {
  bus: Bus;
  /** Service name; also the queue group, so replicas of one service share its subjects. */
  service: string;
  /** Contracts whose request schemas validate incoming messages before handlers see them. */
  contracts?: readonly Contract[];
  /** Deadline applied when a message carries none. */
  defaultTimeoutMs?: number;
  /** How long close() waits for in-flight requests. */
  shutdownGraceMs?: number;
  logger?: Logger;
}

const OK_HEADERS: Headers = new Map([[STATUS_HEADER, 'ok']]);
const CHUNK_HEADERS: Headers = new Map([[FRAME_HEADER, 'chunk']]);
const END_HEADERS: Headers = new Map([[FRAME_HEADER, 'end']]);

/**
 * The NestJS transport strategy of every Regatta service. One bus subscription per subject
 * (in the service's queue group) is bound straight to its handler, so no per-message route
 * lookup happens; requests are validated against their contract; errors cross as typed data;
 * close() stops taking work, then waits for in-flight requests before returning.
 */
export class RegattaServer extends Server implements CustomTransportStrategy {
  private readonly subscriptions: BusSubscription[] = [];
  private readonly schemas = new Map<string, Contract>();
  private readonly log: Logger;
  private inFlight = 0;
  private idle: (() => void) | undefined;
  private closing = false;

  constructor(private readonly options: RegattaServerOptions) {
    super();
    this.log = options.logger ?? createLogger(options.service);
    for (const c of options.contracts ?? []) this.schemas.set(c.subject, c);
  }

  listen(callback: (...optionalParams: unknown[]) => void): void {
    for (const [pattern, handler] of this.getHandlers()) {
      const subject = pattern;
      const contract = this.schemas.get(subject);
      const queue = contract?.broadcast ? undefined : this.options.service;
      const sub = this.options.bus.subscribe(subject, queue, (msg) => {
        void this.handle(msg, handler, contract);
      });
      this.subscriptions.push(sub);
    }
    this.log.info(
      { subjects: [...this.getHandlers().keys()], queue: this.options.service, bus: this.options.bus.kind },
      'serving',
    );
    callback();
  }

  /** Requests being handled right now. */
  get inFlightCount(): number {
    return this.inFlight;
  }

  private async handle(
    msg: IncomingMessage,
    handler: MessageHandler,
    contract: Contract | undefined,
  ): Promise<void> {
    const started = performance.now();
    const timeoutMs = Number(msg.headers.get(HEADERS.timeoutMs) ?? this.options.defaultTimeoutMs ?? 5_000);
    const deadline = Date.now() + (Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 0);
    const streaming = msg.headers.get(HEADERS.stream) === '1';
    this.inFlight++;
    messagingMetrics.serverInFlight.inc({ service: this.options.service });
    const parent = extractTraceContext(msg.headers);
    const span = tracer().startSpan(
      `${msg.subject} process`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'messaging.destination.name': msg.subject, 'messaging.system': 'nats' },
      },
      parent,
    );
    let outcome = 'ok';
    try {
      await context.with(trace.setSpan(parent, span), () =>
        runWithScope(
          {
            deadline,
            requestId: msg.headers.get(HEADERS.requestId),
            tenant: msg.headers.get(HEADERS.tenant),
          },
          async () => {
            if (Date.now() >= deadline)
              throw new RegattaError('DEADLINE_EXCEEDED', `deadline passed before ${msg.subject} started`);
            const raw = decodeJson(msg.data);
            const data: unknown = contract ? parseOrThrow(contract.request, raw) : raw;
            const ctx = new RegattaContext([msg.subject, msg.headers, deadline]);
            const result$ = this.transformToObservable(await handler(data, ctx)) as Observable<unknown>;
            if (streaming) await this.stream(msg, result$);
            else {
              const value = await lastValueFrom(result$, { defaultValue: null });
              if (msg.replyable) msg.reply(encodeJson(value), OK_HEADERS);
            }
          },
        ),
      );
    } catch (thrown) {
      const err = this.toRegattaError(thrown, msg.subject);
      outcome = err.code;
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.code });
      if (msg.replyable) {
        const reply = errorReply(err);
        if (streaming) reply.headers.set(FRAME_HEADER, 'error');
        msg.reply(reply.data, reply.headers);
      }
    } finally {
      span.end();
      messagingMetrics.serverDuration.observe(
        { subject: msg.subject, outcome },
        (performance.now() - started) / 1000,
      );
      messagingMetrics.serverInFlight.dec({ service: this.options.service });
      if (--this.inFlight === 0) this.idle?.();
    }
  }

  private stream(msg: IncomingMessage, result$: Observable<unknown>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      result$.subscribe({
        next: (chunk) => msg.reply(encodeJson(chunk), CHUNK_HEADERS),
        error: reject,
        complete: () => {
          msg.reply(new Uint8Array(0), END_HEADERS);
          resolve();
        },
      });
    });
  }

  private toRegattaError(thrown: unknown, subject: string): RegattaError {
    if (thrown instanceof RegattaError) return thrown;
    // A handler may surface a typed error as a plain object (RpcException payload).
    const obj = thrown as { code?: unknown; message?: unknown; error?: unknown };
    if (obj && typeof obj === 'object' && typeof obj.code === 'string' && typeof obj.message === 'string') {
      try {
        return RegattaError.fromWire(obj as never);
      } catch {
        // fall through to INTERNAL
      }
    }
    this.log.error(
      { subject, err: thrown instanceof Error ? { message: thrown.message, stack: thrown.stack } : thrown },
      'handler failed',
    );
    return new RegattaError('INTERNAL', `internal error in ${this.options.service}`);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await Promise.all(this.subscriptions.map((s) => s.drain()));
    if (this.inFlight > 0) {
      this.log.info({ inFlight: this.inFlight }, 'draining in-flight requests');
      const grace = this.options.shutdownGraceMs ?? 10_000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.log.warn({ inFlight: this.inFlight }, 'shutdown grace period over with requests in flight');
          resolve();
        }, grace);
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  on(): never {
    throw new Error('RegattaServer does not emit events');
  }

  unwrap<T>(): T {
    return this.options.bus as T;
  }
}

/** Lets typed errors thrown by handlers reach the transport unchanged (Nest would flatten them). */
@Catch()
export class PassThroughRpcFilter implements RpcExceptionFilter {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}
