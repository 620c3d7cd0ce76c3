import { counter, gauge, histogram } from '@regatta/telemetry';

/** Chat requests answered, by routed model, cache status (HIT, MISS, COALESCED, BYPASS) and outcome. */
export const llmRequests = counter({
  name: 'llm_requests_total',
  help: 'LLM chat requests by model, cache status, whether streamed, and outcome (ok or error code)',
  labelNames: ['model', 'cache', 'stream', 'outcome'],
});

/** Time to the whole answer (non-streamed) or to the end of the stream. */
export const llmDuration = histogram({
  name: 'llm_request_duration_seconds',
  help: 'LLM chat request duration at the proxy, by model, cache status and whether streamed',
  labelNames: ['model', 'cache', 'stream'],
  buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
});

/** Upstream attempts by provider and outcome (`ok` or the error code). */
export const upstreamAttempts = counter({
  name: 'llm_upstream_attempts_total',
  help: 'Calls to LLM providers, retries and fallbacks included, by provider and outcome',
  labelNames: ['provider', 'outcome'],
});

/** Cache lookups: hit, miss, coalesced (joined an identical call in flight) or bypass (not cacheable). */
export const llmCacheRequests = counter({
  name: 'llm_cache_requests_total',
  help: 'LLM cache lookups by result: hit, miss, coalesced, bypass',
  labelNames: ['result'],
});

/** Tokens that did not go upstream because a cached or coalesced answer was served. */
export const llmCacheTokensSaved = counter({
  name: 'llm_cache_tokens_saved_total',
  help: 'Prompt and completion tokens served from the cache or a coalesced call instead of the provider',
  labelNames: ['kind'],
});

/** Spend not incurred thanks to cache hits and coalescing. */
export const llmCostAvoided = counter({
  name: 'llm_cost_avoided_usd_total',
  help: 'USD a provider would have charged for answers served from the cache or a coalesced call',
  labelNames: ['tenant'],
});

/** LLM spend (the counter the cost-per-decision SLO reads). */
export const llmCost = counter({
  name: 'llm_cost_usd_total',
  help: 'USD charged by LLM providers, by tenant, model and provider',
  labelNames: ['tenant', 'model', 'provider'],
});

/** Tokens processed upstream, `estimated` when the provider reported no usage. */
export const llmTokens = counter({
  name: 'llm_tokens_total',
  help: 'Tokens processed by providers by tenant, model, kind (prompt, cached_prompt, completion) and source',
  labelNames: ['tenant', 'model', 'kind', 'source'],
});

/** Requests refused by a budget or a rate limit. */
export const llmRefused = counter({
  name: 'llm_refused_total',
  help: 'LLM requests refused before reaching a provider, by reason (tenant_budget, user_budget, rpm, tpm)',
  labelNames: ['reason'],
});

/** Distinct users of the LLM this month, per tenant (read by the cost-per-MAU SLO). */
export const llmMonthlyActiveUsers = gauge({
  name: 'llm_monthly_active_users',
  help: 'Distinct end users who called the LLM this calendar month (UTC), per tenant',
  labelNames: ['tenant'],
});

/** LLM spend this month divided by this month's active users, per tenant (target <= $0.05). */
export const llmCostPerMau = gauge({
  name: 'llm_cost_per_mau_usd',
  help: 'LLM spend this calendar month (UTC) per monthly active user, per tenant',
  labelNames: ['tenant'],
});

/** Circuit state per provider: 0 closed, 1 half-open, 2 open. */
export const llmCircuitState = gauge({
  name: 'llm_provider_circuit_state',
  help: 'Circuit breaker state per LLM provider: 0 closed, 1 half-open, 2 open',
  labelNames: ['provider'],
});
