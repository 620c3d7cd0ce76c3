import { Readable } from 'node:stream';
import { RegattaError } from '@regatta/contracts';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { errorBody, toRegattaError } from '../http/errors.js';

/** The `data:` line that ends every successful stream. */
export const STREAM_DONE = '[DONE]';

function frame(data: string, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${data}\n\n`;
}

/**
 * Answers with a server-sent event stream of `source`'s items: `data: <json>` per item, then
 * `data: [DONE]`. A failure before the first item is an ordinary error response (with its HTTP
 * status); a failure later is an `event: error` frame carrying the uniform error body, then the
 * end of the stream. When the client goes away, `source` is stopped.
 *
 * Use it from a handler with `@Res() reply` (not passthrough): `return sendEventStream(req, reply, items)`.
 */
export async function sendEventStream(
  req: FastifyRequest,
  reply: FastifyReply,
  source: AsyncIterable<unknown>,
): Promise<FastifyReply> {
  const iterator = source[Symbol.asyncIterator]();
  // Waiting for the first item keeps early failures (bad request, service down) real HTTP errors.
  const first = await iterator.next();
  // The deadline passed (and was answered with a 504) while the first item was awaited.
  if (reply.sent || reply.raw.headersSent) {
    await iterator.return?.(undefined);
    return reply;
  }
  async function* frames(): AsyncGenerator<string> {
    let finished = false;
    try {
      let next = first;
      while (!next.done) {
        yield frame(JSON.stringify(next.value));
        next = await iterator.next();
      }
      finished = true;
      yield frame(STREAM_DONE);
    } catch (err) {
      finished = true;
      const e = err instanceof RegattaError ? err : toRegattaError(err);
      yield frame(JSON.stringify(errorBody(e, req.regattaId)), 'error');
    } finally {
      // The client left early: stop the upstream stream too.
      if (!finished) await iterator.return?.(undefined);
    }
  }
  return reply
    .status(200)
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache, no-store')
    .header('x-accel-buffering', 'no')
    .send(Readable.from(frames(), { objectMode: false }));
}
