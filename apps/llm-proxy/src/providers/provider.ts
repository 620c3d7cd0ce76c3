import { RegattaError } from '@regatta/contracts';

/** A JSON object as it travels to and from a provider. */
export type JsonObject = Record<string, unknown>;

/** One upstream call: the OpenAI body to send (model already the provider's name) and its limits. */
export interface UpstreamCall {
  body: JsonObject;
  /** Absolute deadline, epoch ms; the call is abandoned at this moment. */
  deadline: number;
  /** Aborted when every caller waiting for this call has gone away. */
  signal: AbortSignal;
}

/** An OpenAI-compatible upstream: answers whole or as a stream of chunk objects. */
export interface Provider {
  readonly name: string;
  /** A non-streamed completion body. Throws UpstreamError. */
  complete(call: UpstreamCall): Promise<JsonObject>;
  /**
   * Streamed chunks, ending after the provider's `[DONE]`. Throws UpstreamError, also mid-stream; a
   * stream that stops without `[DONE]` is an error (truncated), never a normal end.
   */
  stream(call: UpstreamCall): AsyncIterable<JsonObject>;
  close(): Promise<void>;
}

/** What the router may do after a failed attempt. */
export interface FailureAdvice {
  /** Worth another attempt at the same provider after a backoff (5xx, connection error). */
  retrySame: boolean;
  /** Worth trying the next provider of the route (anything but a bad request). */
  tryNext: boolean;
  /** Counts against the provider's circuit breaker. */
  breaker: boolean;
}

/** A failed upstream attempt: the typed error a caller would see and how the router should react. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';

  constructor(
    readonly error: RegattaError,
    readonly advice: FailureAdvice,
    /** HTTP status of the provider's answer, when there was one. */
    readonly status?: number,
  ) {
    super(error.message);
  }
}

const RETRY_SAME: FailureAdvice = { retrySame: true, tryNext: true, breaker: true };

/** Seconds to wait from `retry-after-ms` / `retry-after` (seconds or an HTTP date), if given. */
export function parseRetryAfter(headers: Record<string, string | string[] | undefined>, now = Date.now()) {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const ms = Number(first(headers['retry-after-ms']));
  if (Number.isFinite(ms) && ms >= 0) return ms / 1000;
  const raw = first(headers['retry-after']);
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}

/**
 * A provider's HTTP error status as the error Regatta's caller sees: 429 -> RESOURCE_EXHAUSTED with the
 * provider's Retry-After; 408 and 5xx -> UNAVAILABLE (retried first); 401/403 -> UNAVAILABLE (the proxy's
 * key is wrong, not the caller's request); 404 -> tried elsewhere; other 4xx -> INVALID_ARGUMENT.
 */
export function upstreamStatusError(
  provider: string,
  status: number,
  message: string,
  retryAfterS?: number,
): UpstreamError {
  const text = `${provider} answered ${status}${message ? `: ${message}` : ''}`;
  const details = { provider, status };
  if (status === 429)
    return new UpstreamError(
      new RegattaError('RESOURCE_EXHAUSTED', `rate limited upstream: ${text}`, details, retryAfterS ?? 1),
      { retrySame: false, tryNext: true, breaker: false },
      status,
    );
  if (status === 408 || status >= 500)
    return new UpstreamError(new RegattaError('UNAVAILABLE', text, details), RETRY_SAME, status);
  if (status === 401 || status === 403)
    return new UpstreamError(
      new RegattaError('UNAVAILABLE', `${provider} refused the proxy's credentials (${status})`, details),
      { retrySame: false, tryNext: true, breaker: true },
      status,
    );
  if (status === 404)
    return new UpstreamError(
      new RegattaError('NOT_FOUND', text, details),
      { retrySame: false, tryNext: true, breaker: false },
      status,
    );
  const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : 'INVALID_ARGUMENT';
  return new UpstreamError(
    new RegattaError(code, text, details),
    { retrySame: false, tryNext: false, breaker: false },
    status,
  );
}

/** A transport failure (refused, reset, closed socket): retried, then the next provider. */
export function upstreamConnectionError(provider: string, reason: string): UpstreamError {
  return new UpstreamError(
    new RegattaError('UNAVAILABLE', `${provider} unreachable: ${reason}`, { provider }),
    RETRY_SAME,
  );
}

/** The request's deadline passed during the call: no retry, no fallback (there is no time left). */
export function upstreamTimeout(provider: string): UpstreamError {
  return new UpstreamError(
    new RegattaError('DEADLINE_EXCEEDED', `${provider} did not answer before the request's deadline`, {
      provider,
    }),
    { retrySame: false, tryNext: false, breaker: true },
  );
}

/** Every caller went away: the call was stopped on purpose. */
export function upstreamCancelled(provider: string): UpstreamError {
  return new UpstreamError(
    new RegattaError('UNAVAILABLE', `call to ${provider} cancelled: the caller went away`, { provider }),
    { retrySame: false, tryNext: false, breaker: false },
  );
}

/** The message of an OpenAI-style error body (`{error: {message}}`), else the text itself (bounded). */
export function errorMessageOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof parsed.error === 'string') return parsed.error.slice(0, 300);
    if (parsed.error && typeof parsed.error.message === 'string') return parsed.error.message.slice(0, 300);
    if (typeof parsed.message === 'string') return parsed.message.slice(0, 300);
  } catch {
    // not JSON
  }
  return text.slice(0, 300);
}
