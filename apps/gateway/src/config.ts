import {
  ConfigError,
  commonEnv,
  databaseEnv,
  defineEnv,
  env,
  redisEnv,
  type ConfigOf,
} from '@regatta/config';
import { z } from 'zod';

/** True for exactly `scheme://host[:port]`, which is what browsers send in `Origin`. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}

/** Origins a browser frontend may call the gateway from: `https://app.example.com,http://localhost:5173` or `*`. */
const corsOrigins = () =>
  z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .superRefine((origins, ctx) => {
      for (const origin of origins) {
        if (origin === '*') continue;
        if (!isOrigin(origin))
          ctx.addIssue({
            code: 'custom',
            message: `"${origin}" is not an origin like https://app.example.com`,
          });
      }
    });

/** Environment of the gateway. */
export const gatewayEnv = defineEnv({
  ...commonEnv,
  ...redisEnv,
  ...databaseEnv,
  PORT: { schema: env.port(8080), doc: 'public HTTP port' },
  HOST: { schema: env.string('0.0.0.0'), doc: 'interface the HTTP server binds' },
  ADMIN_PORT: {
    schema: env.port(0),
    doc: 'private listener for /metrics, /health and /ready (0 = none); worker i of a cluster listens on ADMIN_PORT+i',
  },
  FLOWS_DIR: {
    schema: env.path('apps/gateway/flows'),
    doc: 'directory of decision flow files (`<flow>.yaml`), loaded and validated at start',
  },
  DECISION_LOG_BUFFER: {
    schema: env.int(50_000, 100),
    doc: 'decisions held for the decision log while Postgres is slow or away (503 beyond)',
  },
  METRICS_TOKEN: {
    schema: env.optionalString(),
    doc: 'when set, GET /metrics on the public port requires `Authorization: Bearer <token>`; in production the public /metrics answers 404 without it',
  },
  BODY_LIMIT_BYTES: { schema: env.int(1_048_576, 1_024), doc: 'largest request body accepted (413 above)' },
  REGATTA_ADMIN_KEY: {
    schema: env.optionalString(),
    doc: 'bootstrap admin API key (tenant `default`, every scope), at least 32 characters; required in staging and production',
    defaultDoc: '(unset: development/test use the documented development key)',
  },
  API_KEY_PEPPER: {
    schema: env.optionalString(),
    doc: 'server secret mixed into stored API key hashes (HMAC-SHA256); changing it invalidates every stored key',
  },
  API_KEY_CACHE_TTL_MS: {
    schema: env.int(30_000, 0, 3_600_000),
    doc: 'how long a worker trusts a verified key before asking the database again (also the longest a revocation takes to reach a worker that missed its NATS announcement)',
  },
  RATE_LIMIT_PER_S: {
    schema: env.number(50, 0.001),
    doc: 'sustained requests per second per API key, unless the key sets its own',
  },
  RATE_LIMIT_BURST: {
    schema: env.int(100, 1),
    doc: 'requests an idle API key may send at once, unless the key sets its own',
  },
  RATE_LIMIT_PEERS_INTERVAL_MS: {
    schema: env.int(5_000, 0, 3_600_000),
    doc: "how often a gateway counts the gateway replicas on NATS; while Redis is away each replica allows 1/N of a key's rate and burst (0 = count once at start)",
  },
  CORS_ORIGINS: {
    schema: corsOrigins(),
    doc: 'comma-separated origins allowed to call from a browser (`*` = any, only without credentials); empty = no CORS',
  },
  CORS_CREDENTIALS: {
    schema: env.bool(false),
    doc: 'send Access-Control-Allow-Credentials (cookies); never together with `*`',
  },
  CORS_MAX_AGE_S: { schema: env.int(600, 0, 86_400), doc: 'how long browsers cache a preflight answer' },
  MAX_IN_FLIGHT: {
    schema: env.int(1_000, 1),
    doc: 'requests a worker serves at once; beyond it requests get a fast 503 + Retry-After',
  },
  ROUTE_TIMEOUT_MS: {
    schema: env.int(3_000, 1),
    doc: 'budget of a route without its own @Deadline; `X-Request-Timeout-Ms` may only lower it',
  },
  BREAKER_FAILURES: {
    schema: env.int(5, 1),
    doc: 'consecutive failures of a downstream service that open its circuit breaker',
  },
  BREAKER_HALF_OPEN_MS: {
    schema: env.int(5_000, 1),
    doc: 'how long an open breaker fails fast before letting one probe request through',
  },
  RETRY_BUDGET: {
    schema: env.number(0.1, 0),
    doc: 'fraction of downstream calls that may be retries (idempotent calls are retried once)',
  },
  GATEWAY_WORKERS: {
    schema: env.int(1, 1, 64),
    doc: 'worker processes sharing the public port (node:cluster); distributed mode only',
  },
});
export type GatewayConfig = ConfigOf<typeof gatewayEnv>;

/** The environments in which the gateway may fall back to the development admin key. */
const DEV_ENVIRONMENTS: ReadonlySet<string> = new Set(['development', 'test']);

/**
 * The bootstrap admin key of development and test when REGATTA_ADMIN_KEY is unset. It is public
 * (written in the README), so staging and production refuse to start with it or without a key.
 */
export const DEV_ADMIN_KEY = 'rg_dev_admin_key_for_local_use_only_0000';

/**
 * Rules that span several variables, checked after `loadConfig`: throws ConfigError naming each
 * variable that is wrong.
 */
export function checkGatewayConfig(config: GatewayConfig, mode: 'embedded' | 'distributed'): void {
  const problems: { variable: string; message: string }[] = [];
  const dev = DEV_ENVIRONMENTS.has(config.ENVIRONMENT);
  const key = config.REGATTA_ADMIN_KEY;
  if (key === undefined && !dev)
    problems.push({
      variable: 'REGATTA_ADMIN_KEY',
      message: `required when ENVIRONMENT=${config.ENVIRONMENT}`,
    });
  if (key !== undefined && key.length < 32)
    problems.push({ variable: 'REGATTA_ADMIN_KEY', message: 'must be at least 32 characters' });
  if (key === DEV_ADMIN_KEY && !dev)
    problems.push({
      variable: 'REGATTA_ADMIN_KEY',
      message: `the development key is public and refused when ENVIRONMENT=${config.ENVIRONMENT}`,
    });
  if (config.CORS_CREDENTIALS && config.CORS_ORIGINS.includes('*'))
    problems.push({ variable: 'CORS_ORIGINS', message: '`*` cannot be used with CORS_CREDENTIALS=true' });
  if (config.GATEWAY_WORKERS > 1 && mode === 'embedded')
    problems.push({
      variable: 'GATEWAY_WORKERS',
      message: 'cluster mode needs the distributed fleet (NATS)',
    });
  // Embedded PGlite belongs to one process; several workers would open the same data directory.
  if (config.GATEWAY_WORKERS > 1 && config.DATABASE_URL === undefined)
    problems.push({ variable: 'DATABASE_URL', message: 'required when GATEWAY_WORKERS > 1' });
  if (problems.length > 0) throw new ConfigError(problems);
}

/** The bootstrap admin key in force: REGATTA_ADMIN_KEY, or the development key where that is allowed. */
export function adminKeyOf(config: GatewayConfig): { key: string; development: boolean } {
  return config.REGATTA_ADMIN_KEY !== undefined
    ? { key: config.REGATTA_ADMIN_KEY, development: false }
    : { key: DEV_ADMIN_KEY, development: true };
}
