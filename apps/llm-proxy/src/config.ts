import path from 'node:path';
import {
  commonEnv,
  databaseEnv,
  defineEnv,
  env,
  metricsEnv,
  REPO_ROOT,
  redisEnv,
  type ConfigOf,
} from '@regatta/config';
import { z } from 'zod';

// The versioned tables live in the repository beside the service (found from the repository root, since
// the service may run from its bundle under dist/bundle).
const packageFile = (name: string) => path.join(REPO_ROOT, 'apps/llm-proxy/config', name);

/** Per-tenant overrides of budgets and limits, e.g. `{"acme": {"budget_usd": 100, "rpm": 600}}`. */
export const TenantLimitsSchema = z.record(
  z.string().min(1),
  z.strictObject({
    budget_usd: z.number().nonnegative().optional(),
    user_budget_usd: z.number().nonnegative().optional(),
    rpm: z.number().int().nonnegative().optional(),
    tpm: z.number().int().nonnegative().optional(),
  }),
);
export type TenantLimits = z.infer<typeof TenantLimitsSchema>;

const tenantLimitsJson = z
  .string()
  .default('{}')
  .transform((text, ctx) => {
    try {
      const parsed = TenantLimitsSchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
      ctx.addIssue({ code: 'custom', message: `must map tenant -> {budget_usd, user_budget_usd, rpm, tpm}` });
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON' });
    }
    return z.NEVER;
  });

const optionalUsd = z.coerce.number().nonnegative().optional();

/** Environment of the llm-proxy service. */
export const llmProxyEnv = defineEnv({
  ...commonEnv,
  ...redisEnv,
  ...databaseEnv,
  ...metricsEnv(9103),
  LLM_ROUTING_FILE: {
    schema: env.string(packageFile('routing.json')),
    defaultDoc: 'apps/llm-proxy/config/routing.json',
    doc: 'routing table: providers (base URL, key variable), models, aliases, fallback order, weights',
  },
  LLM_PRICE_FILE: {
    schema: env.string(packageFile('prices.json')),
    defaultDoc: 'apps/llm-proxy/config/prices.json',
    doc: 'versioned price table (USD per 1M input, cached-input and output tokens); read at boot only',
  },
  LLM_CACHE_TTL_S: {
    schema: env.int(86_400, 1),
    doc: 'lifetime of a cached answer unless the request sets one',
  },
  LLM_CACHE_MAX_ENTRIES: {
    schema: env.int(10_000, 1),
    doc: 'entries of the in-process cache used when REDIS_URL is unset',
  },
  LLM_CACHE_MAX_ENTRY_BYTES: {
    schema: env.int(1_048_576, 1_024),
    doc: 'answers larger than this are served but not cached',
  },
  LLM_REDIS_PREFIX: {
    schema: env.string('regatta:llm'),
    doc: 'prefix of every Redis key of the proxy (cache, leases, budgets, limits, users)',
  },
  LLM_TIMEOUT_MS: {
    schema: env.int(300_000, 1),
    doc: 'longest an LLM call may take, whatever deadline the caller sends',
  },
  LLM_UPSTREAM_RETRIES: {
    schema: env.int(2, 0, 10),
    doc: 'retries per provider on 5xx, connection errors and timeouts (within the deadline)',
  },
  LLM_RETRY_BASE_MS: { schema: env.int(100, 1), doc: 'first retry delay; doubles each retry, with jitter' },
  LLM_UPSTREAM_CONNECTIONS: {
    schema: env.int(64, 1),
    doc: 'keep-alive connections per HTTP provider',
  },
  LLM_BREAKER_FAILURES: {
    schema: env.int(5, 1),
    doc: 'consecutive failures that open a provider circuit',
  },
  LLM_BREAKER_COOLDOWN_MS: {
    schema: env.int(10_000, 1),
    doc: 'how long an open circuit skips its provider before one trial call',
  },
  LLM_TENANT_BUDGET_USD: {
    schema: optionalUsd,
    doc: 'monthly LLM budget of every tenant (unset = unlimited); LLM_TENANT_LIMITS overrides it',
  },
  LLM_USER_BUDGET_USD: {
    schema: optionalUsd,
    doc: 'monthly LLM budget of every end user within a tenant (unset = unlimited)',
  },
  LLM_TENANT_RPM: { schema: env.int(0, 0), doc: 'requests per minute per tenant (0 = unlimited)' },
  LLM_TENANT_TPM: { schema: env.int(0, 0), doc: 'upstream tokens per minute per tenant (0 = unlimited)' },
  LLM_TENANT_LIMITS: {
    schema: tenantLimitsJson,
    defaultDoc: '{}',
    doc: 'JSON per-tenant overrides: {"<tenant>": {"budget_usd", "user_budget_usd", "rpm", "tpm"}}',
  },
  LLM_DEFAULT_MAX_OUTPUT_TOKENS: {
    schema: env.int(4_096, 1),
    doc: 'output tokens reserved against budgets when neither request nor price table bounds them',
  },
  LLM_LEDGER_TABLE: { schema: env.string('llm_usage'), doc: 'Postgres table of the usage ledger' },
  LLM_LEDGER_SPOOL_DIR: {
    schema: env.optionalString(),
    defaultDoc: '$REGATTA_DATA_DIR/llm-proxy/spool',
    doc: 'where ledger rows not yet written (full buffer, shutdown) wait until Postgres takes writes again or the next start',
  },
  LLM_TOKEN_ESTIMATOR: {
    schema: z.enum(['tiktoken', 'heuristic']).default('tiktoken'),
    doc: 'how usage is estimated when a provider reports none (tiktoken runs in a worker thread)',
  },
});
export type LlmProxyConfig = ConfigOf<typeof llmProxyEnv>;
