import { type ExecutionContext, createParamDecorator } from '@nestjs/common';
import { RegattaError } from '@regatta/contracts';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { type Principal } from '../auth/scopes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated key; undefined on public routes. */
    regattaPrincipal: Principal | undefined;
    /** Absolute deadline of the request, epoch ms (Infinity on system routes). */
    regattaDeadline: number;
    regattaAbort: AbortController | undefined;
    /** Set once the deadline has passed. */
    regattaExpired: boolean;
  }
}

/** Who is calling and how long they wait: what a route handler needs besides its body. */
export interface Caller {
  readonly principal: Principal;
  readonly tenant: string;
  readonly requestId: string;
  /** Absolute deadline, epoch ms. */
  readonly deadline: number;
  /** Aborted when the deadline passes or the client goes away: pass it to streams and long work. */
  readonly signal: AbortSignal;
}

/** The abort signal of a request: fires on its deadline or when the client disconnects. */
export function signalOf(req: FastifyRequest, reply: FastifyReply): AbortSignal {
  if (!req.regattaAbort) {
    const controller = new AbortController();
    req.regattaAbort = controller;
    if (req.regattaExpired) controller.abort(deadlineError(req));
    else
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished)
          controller.abort(new RegattaError('UNAVAILABLE', 'the client closed the connection'));
      });
  }
  return req.regattaAbort.signal;
}

/** The error of a request whose budget ran out. */
export function deadlineError(req: FastifyRequest): RegattaError {
  return new RegattaError('DEADLINE_EXCEEDED', 'the request ran out of time (its deadline passed)', {
    request_id: req.regattaId,
  });
}

/** The Caller of the request a handler is running for (authenticated routes only). */
export function callerOf(req: FastifyRequest, reply: FastifyReply): Caller {
  const principal = req.regattaPrincipal;
  if (!principal) throw new RegattaError('UNAUTHENTICATED', 'this route needs an API key');
  return {
    principal,
    tenant: principal.tenant,
    requestId: req.regattaId,
    deadline: req.regattaDeadline,
    get signal() {
      return signalOf(req, reply);
    },
  };
}

/** Parameter decorator: `@Caller() caller: Caller` — tenant, key, request id, deadline, abort signal. */
export const Caller = createParamDecorator((_data: unknown, ctx: ExecutionContext): Caller => {
  const http = ctx.switchToHttp();
  return callerOf(http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>());
});

/**
 * A tenant-owned resource as the caller may see it: another tenant's resource is NOT_FOUND, exactly
 * like one that does not exist, so ids of other tenants cannot be probed.
 */
export function ownedBy<T extends { tenant: string }>(
  resource: T | undefined,
  caller: Pick<Caller, 'tenant'>,
  what: string,
): T {
  if (!resource || resource.tenant !== caller.tenant) throw new RegattaError('NOT_FOUND', `no ${what}`);
  return resource;
}
