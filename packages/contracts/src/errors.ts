import { z } from 'zod';

/** The closed set of error codes that cross process boundaries as data. */
export const ErrorCode = z.enum([
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'DEADLINE_EXCEEDED',
  'UNAVAILABLE',
  'OVERLOADED',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** The one place where an error code becomes an HTTP status. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  OVERLOADED: 503,
  DEADLINE_EXCEEDED: 504,
};

/** Codes for which a caller may retry the same request elsewhere or later. */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set(['UNAVAILABLE', 'OVERLOADED']);

/** An error as it travels between services: code, message, optional structured details. */
export const WireError = z.object({
  code: ErrorCode,
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
  retry_after_s: z.number().nonnegative().optional(),
});
export type WireError = z.infer<typeof WireError>;

/** The uniform HTTP error body of every gateway response. */
export const HttpErrorBody = z.object({
  error: z.object({
    code: ErrorCode,
    message: z.string(),
    request_id: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type HttpErrorBody = z.infer<typeof HttpErrorBody>;

/** A typed error; the only kind of error a Regatta service reports to its callers. */
export class RegattaError extends Error {
  override readonly name = 'RegattaError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }

  toWire(): WireError {
    const wire: WireError = { code: this.code, message: this.message };
    if (this.details) wire.details = this.details;
    if (this.retryAfterS !== undefined) wire.retry_after_s = this.retryAfterS;
    return wire;
  }

  static fromWire(wire: WireError): RegattaError {
    return new RegattaError(wire.code, wire.message, wire.details, wire.retry_after_s);
  }

  /** Any thrown value as a RegattaError; unknown failures become INTERNAL without leaking their text. */
  static from(err: unknown): RegattaError {
    if (err instanceof RegattaError) return err;
    return new RegattaError('INTERNAL', 'internal error');
  }
}

export const invalidArgument = (message: string, details?: Record<string, unknown>) =>
  new RegattaError('INVALID_ARGUMENT', message, details);
export const notFound = (message: string, details?: Record<string, unknown>) =>
  new RegattaError('NOT_FOUND', message, details);
export const unavailable = (message: string, details?: Record<string, unknown>) =>
  new RegattaError('UNAVAILABLE', message, details);
