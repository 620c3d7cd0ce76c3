import { randomUUID } from 'node:crypto';
import { HEADERS } from '@regatta/contracts';
import { type FastifyInstance, type FastifyRequest } from 'fastify';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

declare module 'fastify' {
  interface FastifyRequest {
    regattaStart: number;
    regattaId: string;
  }
}

/** The request id of a request: the caller's `X-Request-Id` when well-formed, else a new UUID. */
export function requestIdOf(req: FastifyRequest): string {
  return req.regattaId;
}

/**
 * Every response, errors and 404s included, carries `X-Request-Id` and `X-Response-Time-Ms`
 * (time from the first byte of the request to the response headers, in milliseconds).
 */
export function installRequestContext(fastify: FastifyInstance): void {
  fastify.decorateRequest('regattaStart', 0);
  fastify.decorateRequest('regattaId', '');
  fastify.addHook('onRequest', (req, reply, done) => {
    req.regattaStart = performance.now();
    const incoming = req.headers[HEADERS.requestId];
    req.regattaId = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
    void reply.header(HEADERS.requestId, req.regattaId);
    done();
  });
  fastify.addHook('onSend', (req, reply, payload, done) => {
    const start = req.regattaStart || performance.now();
    void reply.header(HEADERS.responseTime, (performance.now() - start).toFixed(3));
    done(null, payload);
  });
}
