import { RegattaError } from '@regatta/contracts';
import { Pool, errors as undiciErrors } from 'undici';
import {
  type JsonObject,
  type Provider,
  type UpstreamCall,
  UpstreamError,
  errorMessageOf,
  parseRetryAfter,
  upstreamCancelled,
  upstreamConnectionError,
  upstreamStatusError,
  upstreamTimeout,
} from './provider.js';
import { sseData } from './sse-parser.js';

/** Options of an OpenAI-compatible HTTP provider. */
export interface OpenAiHttpOptions {
  name: string;
  /** e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`. */
  baseUrl: string;
  apiKey?: string | undefined;
  /** Keep-alive connections to the provider. */
  connections: number;
}

type Body = AsyncIterable<Uint8Array> & {
  text(): Promise<string>;
  json(): Promise<unknown>;
  destroy(): void;
};

/**
 * Any OpenAI-compatible server (OpenAI, vLLM, Ollama, ...) over one pooled keep-alive undici client.
 * Every call is bounded by the request's deadline and stopped when its signal aborts.
 */
export class OpenAiHttpProvider implements Provider {
  readonly name: string;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(options: OpenAiHttpOptions) {
    this.name = options.name;
    const url = new URL(options.baseUrl);
    this.path = `${url.pathname.replace(/\/+$/, '')}/chat/completions`;
    this.pool = new Pool(url.origin, {
      connections: options.connections,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
    });
    this.headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (options.apiKey) this.headers.authorization = `Bearer ${options.apiKey}`;
  }

  async complete(call: UpstreamCall): Promise<JsonObject> {
    const { body, done } = await this.send(call);
    try {
      const parsed = await body.json();
      if (!isObject(parsed) || !Array.isArray(parsed.choices))
        throw upstreamConnectionError(this.name, 'answer is not a chat completion');
      return parsed;
    } catch (err) {
      throw this.mapError(err, call);
    } finally {
      done();
    }
  }

  async *stream(call: UpstreamCall): AsyncGenerator<JsonObject> {
    const { body, done } = await this.send(call);
    let finished = false;
    try {
      for await (const data of sseData(body)) {
        if (data === '[DONE]') {
          finished = true;
          return;
        }
        let chunk: unknown;
        try {
          chunk = JSON.parse(data);
        } catch {
          throw upstreamConnectionError(this.name, 'stream carried a malformed event');
        }
        if (!isObject(chunk)) throw upstreamConnectionError(this.name, 'stream carried a non-object event');
        if (chunk.error !== undefined) {
          const message = errorMessageOf(JSON.stringify(chunk));
          throw upstreamConnectionError(this.name, `error inside the stream: ${message}`);
        }
        yield chunk;
      }
      throw upstreamConnectionError(this.name, 'stream ended without [DONE] (truncated)');
    } catch (err) {
      throw this.mapError(err, call);
    } finally {
      if (!finished) body.destroy();
      done();
    }
  }

  /**
   * Sends the request; resolves once a 2xx status arrived, throws the mapped error otherwise. `done`
   * releases the deadline timer and the caller's signal; call it once the body is read or dropped.
   */
  private async send(call: UpstreamCall): Promise<{ body: Body; done: () => void }> {
    const remaining = call.deadline - Date.now();
    if (remaining <= 0) throw upstreamTimeout(this.name);
    // One controller and one plain timer, released when the call ends: AbortSignal.timeout + any would
    // cost tens of microseconds per call and keep a timer alive for the whole deadline.
    const controller = new AbortController();
    const stop = () => controller.abort();
    const timer = setTimeout(stop, remaining);
    if (call.signal.aborted) stop();
    else call.signal.addEventListener('abort', stop, { once: true });
    const done = () => {
      clearTimeout(timer);
      call.signal.removeEventListener('abort', stop);
    };
    let res: Awaited<ReturnType<Pool['request']>>;
    try {
      res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: this.headers,
        body: JSON.stringify(call.body),
        signal: controller.signal,
        headersTimeout: remaining,
        bodyTimeout: remaining,
      });
    } catch (err) {
      done();
      throw this.mapError(err, call);
    }
    const body = res.body as unknown as Body;
    if (res.statusCode >= 200 && res.statusCode < 300) return { body, done };
    let text = '';
    try {
      text = await body.text();
    } catch {
      // the status is enough
    } finally {
      done();
    }
    throw upstreamStatusError(
      this.name,
      res.statusCode,
      errorMessageOf(text),
      res.statusCode === 429 ? parseRetryAfter(res.headers) : undefined,
    );
  }

  private mapError(err: unknown, call: UpstreamCall): UpstreamError {
    if (err instanceof UpstreamError) return err;
    if (call.signal.aborted) return upstreamCancelled(this.name);
    if (Date.now() >= call.deadline - 1) return upstreamTimeout(this.name);
    if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError)
      return upstreamTimeout(this.name);
    if (err instanceof RegattaError)
      return new UpstreamError(err, { retrySame: false, tryNext: false, breaker: false });
    const e = err as NodeJS.ErrnoException;
    return upstreamConnectionError(this.name, e.code ?? e.message ?? 'unknown error');
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
