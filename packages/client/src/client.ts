import { RegattaApiError } from './errors.js';
import { readEventStream } from './sse.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  DecisionReply,
  DecisionRequest,
  GatewayHealth,
  GetFeaturesReply,
  GetFeaturesRequest,
  PredictInput,
  PredictReply,
  StoredDecision,
} from './types.js';

/** How to reach the gateway. */
export interface RegattaClientOptions {
  /** The gateway, e.g. `https://api.example.com` or `http://localhost:8080`. */
  baseUrl: string;
  /** An API key (`rg_…`), sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /**
   * Budget of each call in ms: sent as `X-Request-Timeout-Ms` (the gateway answers 504 when it
   * runs out) and enforced here too. Default: the route's own budget, no client-side limit.
   */
  timeoutMs?: number;
  /** Headers sent with every call. */
  headers?: Record<string, string>;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Budget of this call in ms (overrides the client's). */
  timeoutMs?: number;
  /** Sent as `X-Request-Id`, to find the call in the gateway's logs and traces. */
  requestId?: string;
  headers?: Record<string, string>;
}

/** Grace for the gateway's 504 to arrive before the client gives up on its own. */
const CLIENT_GRACE_MS = 250;

/**
 * A typed client of the Regatta HTTP API, built on `fetch` alone, so it runs in browsers and in
 * Node 18+. Every failure is a {@link RegattaApiError} with the API's error code.
 */
export class RegattaClient {
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: RegattaClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    // Called unbound, a browser's fetch throws "Illegal invocation".
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** `POST /v1/decisions`: one decision in a declared flow. */
  decide(request: DecisionRequest, options?: CallOptions): Promise<DecisionReply> {
    return this.call('POST', '/v1/decisions', request, options);
  }

  /** `GET /v1/decisions/{id}`: a decision of the key's tenant (NOT_FOUND for any other). */
  getDecision(id: string, options?: CallOptions): Promise<StoredDecision> {
    return this.call('GET', `/v1/decisions/${encodeURIComponent(id)}`, undefined, options);
  }

  /** `POST /v1/predict/{model}`: scores rows with a model. */
  predict(model: string, request: PredictInput, options?: CallOptions): Promise<PredictReply> {
    return this.call('POST', `/v1/predict/${encodeURIComponent(model)}`, request, options);
  }

  /** `POST /v1/features`: online feature values (Feast's get-online-features). */
  features(request: GetFeaturesRequest, options?: CallOptions): Promise<GetFeaturesReply> {
    return this.call('POST', '/v1/features', request, options);
  }

  /** `POST /v1/chat/completions`: a whole chat completion (OpenAI-compatible). */
  chat(request: ChatCompletionRequest, options?: CallOptions): Promise<ChatCompletion> {
    return this.call('POST', '/v1/chat/completions', { ...request, stream: false }, options);
  }

  /**
   * `POST /v1/chat/completions` with `stream: true`: the completion's chunks as they are made.
   * Breaking out of the loop (or aborting `signal`) stops the stream and the upstream call.
   */
  async *chatStream(
    request: ChatCompletionRequest,
    options?: CallOptions,
  ): AsyncGenerator<ChatCompletionChunk> {
    const { res, done } = await this.send(
      'POST',
      '/v1/chat/completions',
      { ...request, stream: true },
      options,
      false,
    );
    const requestId = res.headers.get('x-request-id') ?? undefined;
    try {
      if (!res.body) throw new RegattaApiError('INTERNAL', 'the stream has no body', res.status, requestId);
      for await (const event of readEventStream(res.body)) {
        if (event.event === 'error') {
          const error = errorOfEvent(event.data, res.status, requestId);
          throw error;
        }
        if (event.data === '[DONE]') return;
        yield JSON.parse(event.data) as ChatCompletionChunk;
      }
      // The connection ended without [DONE]: the answer is incomplete.
      throw new RegattaApiError(
        'UNAVAILABLE',
        'the stream ended before it was complete',
        res.status,
        requestId,
      );
    } catch (err) {
      throw asApiError(err, requestId);
    } finally {
      done();
    }
  }

  /** `GET /health`: liveness of the gateway (no key needed). */
  health(options?: CallOptions): Promise<GatewayHealth> {
    return this.call('GET', '/health', undefined, options);
  }

  /** Any JSON route of the API, typed by the caller. */
  async call<T>(method: string, path: string, body?: unknown, options?: CallOptions): Promise<T> {
    const { res, done } = await this.send(method, path, body, options, true);
    try {
      return (await res.json()) as T;
    } catch (err) {
      throw asApiError(err, res.headers.get('x-request-id') ?? undefined);
    } finally {
      done();
    }
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    options: CallOptions = {},
    json: boolean,
  ): Promise<{ res: Response; done: () => void }> {
    const headers: Record<string, string> = {
      accept: json ? 'application/json' : 'text/event-stream',
      ...this.options.headers,
    };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (options.requestId) headers['x-request-id'] = options.requestId;
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    if (timeoutMs !== undefined) headers['x-request-timeout-ms'] = String(Math.max(1, Math.floor(timeoutMs)));
    Object.assign(headers, options.headers);

    // One controller aborts the call for the caller's signal and for the client-side deadline.
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) controller.abort(options.signal.reason);
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () =>
              controller.abort(
                new RegattaApiError('DEADLINE_EXCEEDED', `no answer within ${timeoutMs} ms`, 0),
              ),
            timeoutMs + CLIENT_GRACE_MS,
          );
    const done = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    let res: Response;
    try {
      res = await this.fetchFn(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: controller.signal,
      });
    } catch (err) {
      done();
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : err;
      throw asApiError(reason, undefined);
    }
    if (!res.ok) {
      try {
        throw await RegattaApiError.fromResponse(res);
      } finally {
        done();
      }
    }
    return { res, done };
  }
}

function errorOfEvent(data: string, status: number, requestId: string | undefined): RegattaApiError {
  try {
    const e = (JSON.parse(data) as { error?: { code?: string; message?: string; request_id?: string } })
      .error;
    if (e?.code && e.message)
      return new RegattaApiError(
        e.code as RegattaApiError['code'],
        e.message,
        status,
        e.request_id ?? requestId,
      );
  } catch {
    // fall through
  }
  return new RegattaApiError('INTERNAL', 'the stream failed', status, requestId);
}

/** Whatever a call threw, as a RegattaApiError (aborts and network failures included). */
function asApiError(err: unknown, requestId: string | undefined): RegattaApiError {
  if (err instanceof RegattaApiError) return err;
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'AbortError' || name === 'TimeoutError')
    return new RegattaApiError('ABORTED', 'the call was aborted', 0, requestId, undefined, undefined, {
      cause: err,
    });
  if (err instanceof SyntaxError)
    return new RegattaApiError(
      'INTERNAL',
      `the answer is not valid JSON: ${err.message}`,
      0,
      requestId,
      undefined,
      undefined,
      { cause: err },
    );
  const message = err instanceof Error ? err.message : String(err);
  return new RegattaApiError(
    'NETWORK',
    `the gateway could not be reached: ${message}`,
    0,
    requestId,
    undefined,
    undefined,
    {
      cause: err,
    },
  );
}
