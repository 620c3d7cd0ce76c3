import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import { HEADERS } from '@regatta/contracts';
import { type FastifyInstance } from 'fastify';
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
  await fastify.register(helmet, {
    global: true,
    // JSON responses and one server-rendered docs page: nothing may load scripts or frame them.
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
  });
}
