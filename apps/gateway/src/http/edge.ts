import { MethodNotAllowedException } from '@nestjs/common';
import { RegattaError } from '@regatta/contracts';
import { runWithScope } from '@regatta/transport';
import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { apiKeyFrom } from '../auth/api-key.js';
import { type ApiKeyAuthenticator } from '../auth/authenticator.js';
import { type Scope } from '../auth/scopes.js';
import { deadlineError } from '../edge/caller.js';
import { type RouteEdge } from '../edge/route-meta.js';
import { type InFlightLimiter } from '../limits/in-flight.js';
import { type RateDecision, type RateLimit, type RateLimiter } from '../limits/rate-limiter.js';
import { sendError } from './errors.js';

/** Request header with which a caller lowers a route's budget, in milliseconds. */
export const TIMEOUT_HEADER = 'x-request-timeout-ms';

/** What the edge hooks need. */
export interface EdgeDeps {
  authenticator: ApiKeyAuthenticator;
  limiter: RateLimiter;
  inFlight: InFlightLimiter;
  /** The rate limit of keys that do not set their own. */
  defaultRate: RateLimit;
  /** Budget of routes without @Deadline. */
  routeTimeoutMs: number;
}

/** The budget of a request: the route's, lowered (never raised) by `X-Request-Timeout-Ms`. */
export function budgetOf(req: FastifyRequest, edge: RouteEdge | undefined, fallbackMs: number): number {
  const routeMs = edge?.timeoutMs ?? fallbackMs;
  const raw = req.headers[TIMEOUT_HEADER];
  if (raw === undefined) return routeMs;
  if (typeof raw !== 'string' || !/^[0-9]{1,9}$/.test(raw.trim()) || Number(raw) <= 0) {
    const shown = (Array.isArray(raw) ? raw.join(',') : raw).slice(0, 32);
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `${TIMEOUT_HEADER} must be a positive whole number of milliseconds, got "${shown}"`,
    );
  }
  return Math.min(routeMs, Number(raw));
}

function rateHeaders(reply: FastifyReply, d: RateDecision, limit: RateLimit): void {
  void reply.header('ratelimit-limit', String(d.limit));
  void reply.header('ratelimit-remaining', String(d.remaining));
  void reply.header('ratelimit-reset', String(d.resetS));
  void reply.header(
    'ratelimit-policy',
    `${limit.burst};w=${Math.max(1, Math.ceil(limit.burst / limit.ratePerS))}`,
  );
}

function missingScopes(have: ReadonlySet<Scope>, need: readonly Scope[]): Scope[] {
  return need.filter((s) => !have.has(s));
}

const ROUTE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** The methods a path is served with, when the request's own is not one of them (for a 405 and its Allow). */
function methodsAllowed(req: FastifyRequest): string[] {
  const url = req.url.split('?', 1)[0]!;
  return ROUTE_METHODS.filter((method) => {
    if (method === req.method) return false;
    const route = req.server.findRoute({ method, url });
    // A catch-all (`*`) route matches everything and says nothing about this path.
    return route !== null && !(route.params && '*' in route.params);
  });
}

/**
 * The gateway's edge, as Fastify hooks that run before any body is read: load shedding, the
 * request's deadline, API key authentication, the per-key rate limit and the route's scopes;
 * then, just before the handler, the transport's request scope (tenant, request id, deadline),
 * so every RpcClient call made for the request carries them.
 */
export function installEdge(fastify: FastifyInstance, deps: EdgeDeps): void {
  fastify.decorateRequest('regattaPrincipal', undefined);
  fastify.decorateRequest('regattaDeadline', 0);
  fastify.decorateRequest('regattaAbort', undefined);
  fastify.decorateRequest('regattaExpired', false);

  fastify.addHook('onRequest', async (req, reply) => {
    const edge = req.routeOptions.config?.regatta;
    if (edge?.system) {
      req.regattaDeadline = Number.POSITIVE_INFINITY;
      return;
    }
    // An unknown URL, or an OPTIONS request the CORS hook did not answer as a preflight, is a 404
    // at once: no key is asked for and no body is read for a route that does not exist.
    if (req.routeOptions.url === undefined || (req.method === 'OPTIONS' && req.routeOptions.url === '*')) {
      const allowed = req.method === 'OPTIONS' ? [] : methodsAllowed(req);
      if (allowed.length === 0) sendError(reply, req, new RegattaError('NOT_FOUND', 'no such route'));
      else {
        void reply.header('allow', allowed.join(', '));
        const path = req.url.split('?', 1)[0]!;
        const message = `${req.method} is not allowed on ${path.slice(0, 200)}: use ${allowed.join(' or ')}`;
        sendError(reply, req, new MethodNotAllowedException(message));
      }
      return reply;
    }
    if (!deps.inFlight.tryAcquire()) {
      sendError(
        reply,
        req,
        new RegattaError('OVERLOADED', 'the gateway is at capacity: retry shortly', undefined, 1),
      );
      return reply;
    }
    let timer: NodeJS.Timeout | undefined;
    reply.raw.once('close', () => {
      deps.inFlight.release();
      clearTimeout(timer);
    });
    try {
      const budget = budgetOf(req, edge, deps.routeTimeoutMs);
      req.regattaDeadline = Date.now() + budget;
      timer = setTimeout(() => expire(req, reply), budget);
      if (edge?.public === true) return;
      const principal = await deps.authenticator.authenticate(apiKeyFrom(req.headers));
      req.regattaPrincipal = principal;
      const limit: RateLimit = {
        ratePerS: principal.ratePerS ?? deps.defaultRate.ratePerS,
        burst: principal.burst ?? deps.defaultRate.burst,
      };
      const decision = await deps.limiter.take(principal.keyId, limit);
      rateHeaders(reply, decision, limit);
      if (!decision.allowed) {
        throw new RegattaError(
          'RESOURCE_EXHAUSTED',
          `rate limit of this API key reached (${limit.ratePerS}/s, burst ${limit.burst})`,
          undefined,
          decision.retryAfterS,
        );
      }
      const missing = missingScopes(principal.scopes, edge?.scopes ?? []);
      if (missing.length > 0)
        throw new RegattaError('PERMISSION_DENIED', `this API key lacks the scope ${missing.join(', ')}`);
    } catch (err) {
      sendError(reply, req, err);
      return reply;
    }
  });

  fastify.addHook('preHandler', (req, reply, done) => {
    // Answered already (the deadline passed while the body arrived): the handler must not run.
    if (reply.sent) return;
    if (req.regattaDeadline === Number.POSITIVE_INFINITY) return done();
    runWithScope(
      { deadline: req.regattaDeadline, requestId: req.regattaId, tenant: req.regattaPrincipal?.tenant },
      done,
    );
  });
}

/** The deadline passed: abort the request's work and answer 504 unless an answer has started. */
function expire(req: FastifyRequest, reply: FastifyReply): void {
  req.regattaExpired = true;
  const err = deadlineError(req);
  req.regattaAbort?.abort(err);
  if (!reply.sent && !reply.raw.headersSent) sendError(reply, req, err);
}
