import { type ArgumentsHost, Catch, type RpcExceptionFilter } from '@nestjs/common';
import {
  BaseRpcContext,
  type CustomTransportStrategy,
  type MessageHandler,
  Server,
} from '@nestjs/microservices';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { HEADERS, RegattaError, parseOrThrow, type Contract } from '@regatta/contracts';
import { createLogger, extractTraceContext, tracer, tracingExports, type Logger } from '@regatta/telemetry';
import { type Observable, isObservable, lastValueFrom, throwError } from 'rxjs';
import { type Bus, type BusSubscription, type Headers, type IncomingMessage } from './bus.js';
import { messagingMetrics, trackInFlight } from './metrics.js';
import { runWithScope } from './scope.js';
import { FRAME_HEADER, decodeJson, encodeJson, errorReply } from './wire.js';

/** How long `listen()` waits for the bus to confirm the subscriptions before serving anyway. */
const SUBSCRIBE_CONFIRM_MS = 5_000;

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
  /**
   * Run handlers inside the request's scope (deadline, request id, tenant and trace context in
   * AsyncLocalStorage), so the calls they make to other services inherit them. Default true. A leaf
   * service that calls no other service turns it off: once a process enters AsyncLocalStorage, every
   * promise it creates pays for the hooks that carry the store. Handlers still get the deadline and
   * tenant from their RegattaContext.
   */
  requestScope?: boolean;
  /**
   * Longest stretch, in ms, the server spends starting handlers for a burst of messages before it lets
   * the event loop run timers and I/O (default 2). One socket read can carry hundreds of requests; the
   * rest of the burst continues on the next turn of the loop, in arrival order.
   */
  sliceMs?: number;
  logger?: Logger;
}

/** A received message waiting for its handler to start. */
interface Delivery {
  msg: IncomingMessage;
  handler: MessageHandler;
  contract: Contract | undefined;
  /** performance.now() and Date.now() on arrival: time in the inbox counts against the deadline. */
  arrived: number;
  arrivedWall: number;
}

type Observer = { observe(value: number): void };

/** A handler served by {@link RegattaServer.addRoute}: the validated request in, the reply (or a promise of it) out. */
export type RouteHandler = (data: unknown, ctx: RegattaContext) => unknown;

// A successful reply is a plain message: no status header (see STATUS_HEADER).
const OK_HEADERS: Headers = new Map();
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
  private readonly requestScope: boolean;
  /** Metric children bound once per subject, so no label object is built per message. */
  private readonly okDuration = new Map<string, Observer>();
  private untrackInFlight: (() => void) | undefined;
  private readonly sliceMs: number;
  private inbox: (Delivery | undefined)[] = [];
  private inboxHead = 0;
  /** performance.now() at which this turn's slice ends; 0 when no slice is open. */
  private sliceEnds = 0;

  constructor(private readonly options: RegattaServerOptions) {
    super();
    this.log = options.logger ?? createLogger(options.service);
    for (const c of options.contracts ?? []) this.schemas.set(c.subject, c);
    this.requestScope = options.requestScope ?? true;
    this.sliceMs = options.sliceMs ?? 2;
  }

  listen(callback: (...optionalParams: unknown[]) => void): void {
    this.untrackInFlight ??= trackInFlight(this.options.service, () => this.inFlight);
    for (const [pattern, handler] of this.getHandlers()) {
      const subject = pattern;
      const contract = this.schemas.get(subject);
      const queue = contract?.broadcast ? undefined : this.options.service;
      const sub = this.options.bus.subscribe(subject, queue, (msg) => this.receive(msg, handler, contract));
      this.subscriptions.push(sub);
    }
    // Listening ends once the bus has the subscriptions, so a replica that reports ready can be reached
    // from other connections. If the bus cannot confirm in time (a reconnect), the subscriptions are
    // sent when it is back and the service starts anyway.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.log.warn({ waitedMs: SUBSCRIBE_CONFIRM_MS }, 'the bus has not confirmed the subscriptions yet');
        resolve();
      }, SUBSCRIBE_CONFIRM_MS);
    });
    const confirmed = this.options.bus.flush().catch((err: unknown) => {
      this.log.warn({ err: (err as Error).message }, 'the bus could not confirm the subscriptions');
    });
    void Promise.race([confirmed, late]).then(() => {
      clearTimeout(timer);
      this.log.info(
        { subjects: [...this.getHandlers().keys()], queue: this.options.service, bus: this.options.bus.kind },
        'serving',
      );
      callback();
    });
  }

  /**
   * Serves `subject` with `handler` directly, outside Nest's per-message pipeline (guards, pipes,
   * interceptors, exception filters, observables). For hot subjects whose handler needs none of it;
   * validation against the contract, deadlines, tracing, metrics and typed errors still apply.
   * Call before the microservice listens.
   */
  addRoute(subject: string, handler: RouteHandler): void {
    const route: MessageHandler = (data: unknown, ctx?: RegattaContext) =>
      Promise.resolve(handler(data, ctx!)) as Promise<never>;
    this.addHandler(subject, route);
  }

  /** Requests being handled right now. */
  get inFlightCount(): number {
    return this.inFlight;
  }

  /**
   * Counts the message in flight and starts its handler now, unless the current turn of the event loop
   * has already spent its slice starting handlers: then it waits in the inbox for the next turn.
   */
  private receive(msg: IncomingMessage, handler: MessageHandler, contract: Contract | undefined): void {
    this.inFlight++;
    const arrived = performance.now();
    const delivery: Delivery = { msg, handler, contract, arrived, arrivedWall: Date.now() };
    if (this.sliceEnds === 0) {
      this.sliceEnds = arrived + this.sliceMs;
      setImmediate(this.nextTurn);
    }
    if (this.inboxHead === this.inbox.length && arrived < this.sliceEnds) void this.handle(delivery);
    else this.inbox.push(delivery);
  }

  /** A new slice: starts waiting handlers in arrival order until it is spent, then yields again. */
  private readonly nextTurn = (): void => {
    this.sliceEnds = performance.now() + this.sliceMs;
    while (this.inboxHead < this.inbox.length) {
      const delivery = this.inbox[this.inboxHead]!;
      this.inbox[this.inboxHead++] = undefined;
      void this.handle(delivery);
      if (this.inboxHead < this.inbox.length && performance.now() >= this.sliceEnds) {
        setImmediate(this.nextTurn);
        return;
      }
    }
    this.inbox = [];
    this.inboxHead = 0;
    this.sliceEnds = 0;
  };

  private async handle({ msg, handler, contract, arrived, arrivedWall }: Delivery): Promise<void> {
    const headers = msg.headers;
    const given = headers.get(HEADERS.timeoutMs);
    const timeoutMs = Number(given ?? this.options.defaultTimeoutMs ?? 5_000);
    // A malformed deadline header is the caller's error, said as such (not an instant DEADLINE_EXCEEDED).
    const badDeadline = given !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0);
    const deadline = arrivedWall + (badDeadline ? 0 : timeoutMs);
    const streaming = headers.get(HEADERS.stream) === '1';
    const parent = extractTraceContext(headers);
    // Outside a request scope nothing can see the span but an exporter, so without one it is not made.
    const span =
      this.requestScope || tracingExports()
        ? tracer().startSpan(
            `${msg.subject} process`,
            {
              kind: SpanKind.SERVER,
              attributes: { 'messaging.destination.name': msg.subject, 'messaging.system': 'nats' },
            },
            parent,
          )
        : undefined;
    let outcome = 'ok';
    try {
      if (badDeadline) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `header ${HEADERS.timeoutMs} must be a positive number of milliseconds, got ${JSON.stringify(given)}`,
        );
      }
      if (this.requestScope) {
        const scope = {
          deadline,
          requestId: headers.get(HEADERS.requestId),
          tenant: headers.get(HEADERS.tenant),
        };
        await context.with(trace.setSpan(parent, span!), () =>
          runWithScope(scope, () => this.dispatch(msg, handler, contract, deadline, streaming)),
        );
      } else {
        // No closure per message on this path: bundled services name every named closure at run time.
        await this.dispatch(msg, handler, contract, deadline, streaming);
      }
    } catch (thrown) {
      const err = this.toRegattaError(
        thrown,
        msg.subject,
        span?.spanContext().traceId ?? trace.getSpanContext(parent)?.traceId,
      );
      outcome = err.code;
      span?.setStatus({ code: SpanStatusCode.ERROR, message: err.code });
      if (msg.replyable) {
        const reply = errorReply(err);
        if (streaming) reply.headers.set(FRAME_HEADER, 'error');
        msg.reply(reply.data, reply.headers);
      }
    } finally {
      span?.end();
      const seconds = (performance.now() - arrived) / 1000;
      if (outcome === 'ok') this.okObserver(msg.subject).observe(seconds);
      else messagingMetrics.serverDuration.observe({ subject: msg.subject, outcome }, seconds);
      if (--this.inFlight === 0) this.idle?.();
    }
  }

  /** Validates the message, runs its handler and replies (one value, or a stream of chunks). */
  private async dispatch(
    msg: IncomingMessage,
    handler: MessageHandler,
    contract: Contract | undefined,
    deadline: number,
    streaming: boolean,
  ): Promise<void> {
    if (Date.now() >= deadline)
      throw new RegattaError('DEADLINE_EXCEEDED', `deadline passed before ${msg.subject} started`);
    const raw = decodeJson(msg.data);
    const data: unknown = contract ? parseOrThrow(contract.request, raw) : raw;
    const ctx = new RegattaContext([msg.subject, msg.headers, deadline]);
    const result: unknown = await handler(data, ctx);
    if (!streaming && !isObservable(result)) {
      // A direct route's value (Nest's handlers hand back an Observable).
      if (msg.replyable) msg.reply(encodeJson(result), OK_HEADERS);
      return;
    }
    const result$ = this.transformToObservable<unknown>(result);
    if (streaming) await this.stream(msg, result$);
    else {
      const value = await lastValueFrom(result$, { defaultValue: null });
      if (msg.replyable) msg.reply(encodeJson(value), OK_HEADERS);
    }
  }

  private okObserver(subject: string): Observer {
    let observer = this.okDuration.get(subject);
    if (!observer) {
      observer = messagingMetrics.serverDuration.labels({ subject, outcome: 'ok' });
      this.okDuration.set(subject, observer);
    }
    return observer;
  }

  private stream(msg: IncomingMessage, result$: Observable<unknown>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // A chunk the bus refuses (too large) ends the stream with that error: no later chunk and no end frame
      // is sent, and nothing is thrown out of the observable.
      let failed = false;
      const subscription = result$.subscribe({
        next: (chunk) => {
          if (failed) return;
          try {
            msg.reply(encodeJson(chunk), CHUNK_HEADERS);
          } catch (err) {
            failed = true;
            queueMicrotask(() => subscription.unsubscribe());
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        },
        error: reject,
        complete: () => {
          if (failed) return;
          msg.reply(new Uint8Array(0), END_HEADERS);
          resolve();
        },
      });
    });
  }

  private toRegattaError(thrown: unknown, subject: string, traceId: string | undefined): RegattaError {
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
      {
        subject,
        // Inside the request scope the logger adds the trace id itself.
        ...(!this.requestScope && traceId && { trace_id: traceId }),
        err: thrown instanceof Error ? { message: thrown.message, stack: thrown.stack } : thrown,
      },
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
    this.untrackInFlight?.();
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
