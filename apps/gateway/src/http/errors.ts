import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { type Socket } from 'node:net';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import { type ErrorCode, HEADERS, type HttpErrorBody, RegattaError } from '@regatta/contracts';
import { createLogger } from '@regatta/telemetry';
import { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';

const log = createLogger('gateway');

const STATUS_TO_CODE: Record<number, ErrorCode> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  405: 'INVALID_ARGUMENT',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'INVALID_ARGUMENT',
  422: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/**
 * Statuses the HTTP layer itself decides and that the error codes do not distinguish: the code
 * stays INVALID_ARGUMENT, the status keeps HTTP's more precise meaning.
 */
const KEPT_STATUSES: ReadonlySet<number> = new Set([405, 415]);

const FRAMEWORK_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'request body is too large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported content type: send `Content-Type: application/json`',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'request body size does not match Content-Length',
};

/** An error as the client will see it: a RegattaError, and the HTTP status when HTTP decided a finer one. */
export interface ClientError {
  error: RegattaError;
  status: number;
}

// Not `instanceof Error`: errors made by Node itself (a request aborted mid-body) may come from
// another realm in tests, and all that matters here is the status the framework gave them.
function isFastifyClientError(err: unknown): err is FastifyError {
  if (typeof err !== 'object' || err === null) return false;
  const status = (err as Partial<FastifyError>).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** Any thrown value as the error the client will see; unknown failures are logged, not shown. */
export function toClientError(err: unknown): ClientError {
  if (err instanceof RegattaError) return { error: err, status: err.httpStatus };
  if (err instanceof HttpException) {
    // Nest wraps Fastify's own 4xx errors (body too large, bad media type) and keeps them as the cause.
    if (isFastifyClientError(err.cause)) return toClientError(err.cause);
    const status = err.getStatus();
    const code = STATUS_TO_CODE[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
    // Nest's own 404 says `Cannot GET /path`; a 404 thrown by a handler keeps its message.
    const message = status === 404 && err.message.startsWith('Cannot ') ? 'no such route' : err.message;
    const error = new RegattaError(code, message);
    return { error, status: KEPT_STATUSES.has(status) ? status : error.httpStatus };
  }
  if (isFastifyClientError(err)) {
    const status = err.statusCode ?? 400;
    const code = STATUS_TO_CODE[status] ?? 'INVALID_ARGUMENT';
    const message = FRAMEWORK_MESSAGES[err.code] ?? (String(err.message ?? '') || 'bad request');
    const error = new RegattaError(code, message);
    return { error, status: KEPT_STATUSES.has(status) ? status : error.httpStatus };
  }
  log.error(
    { err: err instanceof Error ? { message: err.message, stack: err.stack } : err },
    'unhandled error',
  );
  const error = new RegattaError('INTERNAL', 'internal error');
  return { error, status: error.httpStatus };
}

/** Any thrown value as the RegattaError the client will see. */
export function toRegattaError(err: unknown): RegattaError {
  return toClientError(err).error;
}

/** The uniform error body `{error: {code, message, request_id}}`. */
export function errorBody(e: RegattaError, requestId: string): HttpErrorBody {
  const body: HttpErrorBody = { error: { code: e.code, message: e.message, request_id: requestId } };
  if (e.details) body.error.details = e.details;
  return body;
}

/** Writes the uniform error body with the code's HTTP status (and Retry-After when retrying helps). */
export function sendError(reply: FastifyReply, req: FastifyRequest, err: unknown): void {
  const { error: e, status } = toClientError(err);
  if (e.retryAfterS !== undefined) void reply.header('retry-after', String(Math.ceil(e.retryAfterS)));
  else if (e.code === 'OVERLOADED' || e.code === 'UNAVAILABLE') void reply.header('retry-after', '1');
  void reply.status(status).type('application/json').send(errorBody(e, req.regattaId));
}

/** The one exception filter of the gateway's HTTP side. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendError(http.getResponse<FastifyReply>(), http.getRequest<FastifyRequest>(), exception);
  }
}

/**
 * Errors Fastify meets before routing (a URL that does not decode): the uniform body, with a
 * request id of its own since the edge hooks have not run.
 */
export function frameworkErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  // The onSend hook does not run on this path: both edge headers are set here.
  req.regattaId ||= randomUUID();
  void reply.header(HEADERS.requestId, req.regattaId);
  void reply.header(
    HEADERS.responseTime,
    (req.regattaStart ? performance.now() - req.regattaStart : 0).toFixed(3),
  );
  const message =
    err.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid (bad percent-encoding)' : err.message;
  sendError(reply, req, new RegattaError('INVALID_ARGUMENT', message));
}

/**
 * Requests Node's HTTP parser rejects (malformed request line or headers, headers too large,
 * too slow) never reach Fastify; they still get the uniform body and the two edge headers.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const message =
    status === 431
      ? 'request headers are too large'
      : status === 408
        ? 'the request did not arrive in time'
        : 'malformed HTTP request';
  const id = randomUUID();
  const body = JSON.stringify(errorBody(new RegattaError('INVALID_ARGUMENT', message), id));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'content-type: application/json\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      `${HEADERS.requestId}: ${id}\r\n` +
      `${HEADERS.responseTime}: 0.000\r\n` +
      'connection: close\r\n\r\n' +
      body,
  );
}
