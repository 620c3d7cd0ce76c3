import cors from '@fastify/cors';
import { HEADERS } from '@regatta/contracts';
import { type FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { TIMEOUT_HEADER } from './edge.js';

/** Browser access rules, from CORS_ORIGINS / CORS_CREDENTIALS / CORS_MAX_AGE_S. */
export interface CorsPolicy {
  /** Exact origins allowed, or `*` for any (never with credentials). Empty: no browser access. */
  origins: readonly string[];
  credentials: boolean;
  maxAgeS: number;
}

const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'x-api-key',
  HEADERS.requestId,
  TIMEOUT_HEADER,
  HEADERS.traceparent,
  HEADERS.tracestate,
];
const EXPOSED_HEADERS = [
  HEADERS.requestId,
  HEADERS.responseTime,
  'retry-after',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'ratelimit-policy',
];

/**
 * CORS for the allowlisted origins (preflights answered in the first hooks, before any auth, and
 * cacheable by the browser for `maxAgeS`), and security headers on every response, errors included.
 */
export async function installSecurity(fastify: FastifyInstance, policy: CorsPolicy): Promise<void> {
  if (policy.credentials && policy.origins.includes('*'))
    throw new Error('CORS: `*` cannot be combined with credentials');
  const any = policy.origins.includes('*');
  const allowed = new Set(policy.origins);
  await fastify.register(cors, {
    // A disallowed or missing Origin gets no CORS headers at all (and a preflight from it a 404),
    // rather than a header the browser would reject anyway.
    origin: (origin: string | undefined, cb: (err: Error | null, allow: string | boolean) => void) => {
      if (origin === undefined) return cb(null, false);
      cb(null, any ? '*' : allowed.has(origin) ? origin : false);
    },
    credentials: policy.credentials,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: policy.maxAgeS,
    cacheControl: policy.maxAgeS,
    // A non-preflight OPTIONS gets the 404 every unknown route gets, in the uniform error body.
    strictPreflight: false,
  });
  const headers = securityHeaders(HELMET);
  // On the raw response, before anything else answers (a preflight, a 401, a 404, an error): every
  // response carries them, as the Node response keeps them through Fastify's error paths.
  fastify.addHook('onRequest', (_request, reply, done) => {
    const raw = reply.raw;
    for (const [name, value] of headers) raw.setHeader(name, value);
    done();
  });
}

// JSON responses and one server-rendered docs page: nothing may load scripts or frame them.
const HELMET: HelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      styleSrc: ["'unsafe-inline'"],
      imgSrc: ['data:'],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  },
};

/**
 * The headers helmet sets for `options`, worked out once. Helmet's middleware is built per request by
 * Fastify's own plugin (13 middlewares and their option checks, 3.4 µs a request); without nonces the
 * headers are the same for every response, so the gateway asks helmet once and sets the result.
 */
export function securityHeaders(options: HelmetOptions): [string, string][] {
  const set = new Map<string, string>();
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      set.set(name, String(value));
    },
    removeHeader(name: string) {
      set.delete(name);
    },
  };
  let failure: unknown;
  helmet(options)({} as never, recorder as never, (err?: unknown) => {
    failure = err;
  });
  if (failure instanceof Error) throw failure;
  if (failure !== undefined) throw new Error('helmet refused the security header options');
  return [...set];
}
