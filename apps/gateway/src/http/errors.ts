import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import { type ErrorCode, HTTP_STATUS, type HttpErrorBody, RegattaError } from '@regatta/contracts';
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

/** Any thrown value as the RegattaError the client will see; unknown failures are logged, not shown. */
export function toRegattaError(err: unknown): RegattaError {
  if (err instanceof RegattaError) return err;
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const code = STATUS_TO_CODE[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
    return new RegattaError(code, status === 404 ? 'no such route' : err.message);
  }
  const fe = err as Partial<FastifyError>;
  if (typeof fe.statusCode === 'number' && fe.statusCode < 500) {
    const code = STATUS_TO_CODE[fe.statusCode] ?? 'INVALID_ARGUMENT';
    const message =
      fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'request body is too large' : (fe.message ?? 'bad request');
    return new RegattaError(code, message);
  }
  log.error(
    { err: err instanceof Error ? { message: err.message, stack: err.stack } : err },
    'unhandled error',
  );
  return new RegattaError('INTERNAL', 'internal error');
}

/** Writes the uniform error body `{error: {code, message, request_id}}` with the code's HTTP status. */
export function sendError(reply: FastifyReply, req: FastifyRequest, err: unknown): void {
  const e = toRegattaError(err);
  const body: HttpErrorBody = { error: { code: e.code, message: e.message, request_id: req.regattaId } };
  if (e.details) body.error.details = e.details;
  if (e.retryAfterS !== undefined) void reply.header('retry-after', String(Math.ceil(e.retryAfterS)));
  else if (e.code === 'OVERLOADED' || e.code === 'UNAVAILABLE') void reply.header('retry-after', '1');
  void reply.status(HTTP_STATUS[e.code]).type('application/json').send(body);
}

/** The one exception filter of the gateway's HTTP side. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendError(http.getResponse<FastifyReply>(), http.getRequest<FastifyRequest>(), exception);
  }
}
