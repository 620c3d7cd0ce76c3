import type { ErrorCode } from '@regatta/contracts';

/** Codes of the Regatta API, and the two the client itself may report: `NETWORK` and `ABORTED`. */
export type ApiErrorCode = ErrorCode | 'NETWORK' | 'ABORTED';

// The status -> code map of responses without a Regatta error body (a proxy's 502 page, say).
const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const RETRYABLE: ReadonlySet<ApiErrorCode> = new Set([
  'UNAVAILABLE',
  'OVERLOADED',
  'RESOURCE_EXHAUSTED',
  'NETWORK',
]);

/** An error of a Regatta API call: the gateway's `{error: {code, message, request_id}}`, typed. */
export class RegattaApiError extends Error {
  override readonly name = 'RegattaApiError';

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    /** HTTP status (0 when no response arrived). */
    readonly status: number,
    /** The request id to quote when reporting a problem (X-Request-Id). */
    readonly requestId?: string,
    /** Seconds the server asks to wait before retrying (Retry-After). */
    readonly retryAfterS?: number,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Whether the same call may succeed later (after `retryAfterS` when given). */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }

  /** The error of a non-2xx response: its error body when it has one, else what the status says. */
  static async fromResponse(res: Response): Promise<RegattaApiError> {
    const retryAfter = Number(res.headers.get('retry-after'));
    const retryAfterS = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined;
    let requestId = res.headers.get('x-request-id') ?? undefined;
    const text = await res.text().catch(() => '');
    const body = parseErrorBody(text);
    if (body) {
      requestId = body.request_id ?? requestId;
      return new RegattaApiError(body.code, body.message, res.status, requestId, retryAfterS, body.details);
    }
    const code = CODE_OF_STATUS[res.status] ?? (res.status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
    const message = `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
    return new RegattaApiError(code, message, res.status, requestId, retryAfterS);
  }
}

interface ErrorBody {
  code: ErrorCode;
  message: string;
  request_id?: string;
  details?: Record<string, unknown>;
}

/** The `error` of a uniform error body, or undefined when `text` is not one. */
export function parseErrorBody(text: string): ErrorBody | undefined {
  try {
    const parsed = (JSON.parse(text) as { error?: Partial<ErrorBody> } | null)?.error;
    if (parsed && typeof parsed.code === 'string' && typeof parsed.message === 'string')
      return parsed as ErrorBody;
  } catch {
    // not JSON
  }
  return undefined;
}
