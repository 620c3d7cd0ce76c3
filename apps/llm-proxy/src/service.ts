import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type RedisHandle, connectRedis } from '@regatta/cache';
import { HEALTH, LLM, type DependencyCheck, RegattaError } from '@regatta/contracts';
import { type SqlClient, createPostgresClient } from '@regatta/db';
import { HealthRegistry, type RunningService, startMicroservice } from '@regatta/runtime';
import { createLogger } from '@regatta/telemetry';
import { type Bus, decodeJson, encodeJson, errorReply } from '@regatta/transport';
import { MemoryAnswerStore, RedisAnswerStore } from './cache/answer-store.js';
import { RedisRendezvous } from './cache/rendezvous.js';
import { ChatService, type LedgerSink } from './chat.service.js';
import { type LlmProxyConfig } from './config.js';
import { MemoryLimitStore, RedisLimitStore } from './cost/limits.js';
import { loadPriceTable } from './cost/price-table.js';
import { HeuristicEstimator, TiktokenEstimator, type TokenEstimator } from './cost/token-estimator.js';
import { UsageLedger } from './ledger/ledger.js';
import { openPgliteWorker } from './ledger/worker-db.js';
import { LlmProxyModule } from './llm-proxy.module.js';
import { MockProvider } from './providers/mock.js';
import { OpenAiHttpProvider } from './providers/openai-http.js';
import { type Provider } from './providers/provider.js';
import { Router } from './routing/router.js';
import { loadRoutingTable } from './routing/routing-config.js';

export const LLM_PROXY_SERVICE = 'llm-proxy';

/**
 * The embedded ledger database on a thread of its own (PGlite's statements would otherwise stall the
 * event loop that answers requests); its parent directory is created on first start.
 */
async function openEmbedded(dataDir: string): Promise<SqlClient> {
  await mkdir(path.dirname(dataDir), { recursive: true });
  return openPgliteWorker({ dataDir });
}

/** Replacements for tests and benchmarks; anything not given is built from the config. */
export interface LlmProxyOverrides {
  /** Redis handle (the service then does not close it). */
  redis?: RedisHandle;
  /** Database of the usage ledger (the service then does not close it). */
  sql?: SqlClient;
  /** A ledger sink instead of the Postgres ledger. */
  ledger?: LedgerSink;
  /** Provider instances by routing-table name, replacing the configured ones. */
  providers?: ReadonlyMap<string, Provider>;
  estimator?: TokenEstimator;
  /** Where provider variables (keys, base URLs) are read; default process.env. */
  environment?: NodeJS.ProcessEnv;
}

/** The running llm-proxy: its health registry and chat service (for tests) and close(). */
export interface RunningLlmProxy extends RunningService {
  health: HealthRegistry;
  chat: ChatService;
  ledger: UsageLedger | undefined;
}

/** Starts the llm-proxy service on `bus`; the same code runs embedded and distributed. */
export async function createLlmProxyService(deps: {
  bus: Bus;
  config: LlmProxyConfig;
  overrides?: LlmProxyOverrides;
}): Promise<RunningLlmProxy> {
  const { bus, config } = deps;
  const overrides = deps.overrides ?? {};
  const log = createLogger(LLM_PROXY_SERVICE);
  const prices = loadPriceTable(config.LLM_PRICE_FILE);
  const table = loadRoutingTable(config.LLM_ROUTING_FILE, prices, overrides.environment ?? process.env);
  const providers = new Map<string, Provider>();
  for (const p of table.providers.values()) {
    const given = overrides.providers?.get(p.name);
    if (given) providers.set(p.name, given);
    else if (p.type === 'mock') providers.set(p.name, new MockProvider(p.name, p));
    else if (p.type === 'openai')
      providers.set(
        p.name,
        new OpenAiHttpProvider({
          name: p.name,
          baseUrl: p.baseUrl,
          apiKey: p.apiKey,
          connections: config.LLM_UPSTREAM_CONNECTIONS,
        }),
      );
    else
      log.info(
        { provider: p.name, reason: p.reason },
        'LLM provider not configured; its models fail over to others',
      );
  }
  const router = new Router({
    table,
    providers,
    retries: config.LLM_UPSTREAM_RETRIES,
    retryBaseMs: config.LLM_RETRY_BASE_MS,
    breaker: { failureThreshold: config.LLM_BREAKER_FAILURES, cooldownMs: config.LLM_BREAKER_COOLDOWN_MS },
  });

  const redis = overrides.redis ?? connectRedis(config.REDIS_URL, { name: LLM_PROXY_SERVICE });
  const prefix = config.LLM_REDIS_PREFIX;
  const store = redis.configured
    ? new RedisAnswerStore(redis, prefix)
    : new MemoryAnswerStore(config.LLM_CACHE_MAX_ENTRIES);
  const rendezvous = redis.configured ? new RedisRendezvous(redis, prefix) : undefined;
  const limits = redis.configured ? new RedisLimitStore(redis, prefix) : new MemoryLimitStore();

  let sql = overrides.sql;
  let ledger: UsageLedger | undefined;
  if (!overrides.ledger) {
    sql ??= config.DATABASE_URL
      ? createPostgresClient({
          url: config.DATABASE_URL,
          max: config.DATABASE_POOL_MAX,
          applicationName: LLM_PROXY_SERVICE,
        })
      : await openEmbedded(path.join(config.REGATTA_DATA_DIR, 'llm-proxy', 'pglite'));
    ledger = UsageLedger.start({
      client: sql,
      table: config.LLM_LEDGER_TABLE,
      spoolDir: config.LLM_LEDGER_SPOOL_DIR ?? path.join(config.REGATTA_DATA_DIR, 'llm-proxy', 'spool'),
      logger: log,
    });
  }
  const estimator =
    overrides.estimator ??
    (config.LLM_TOKEN_ESTIMATOR === 'tiktoken' ? new TiktokenEstimator() : new HeuristicEstimator());

  const tenantPolicies = Object.fromEntries(
    Object.entries(config.LLM_TENANT_LIMITS).map(([tenant, l]) => [
      tenant,
      {
        ...(l.budget_usd !== undefined && { budgetUsd: l.budget_usd }),
        ...(l.user_budget_usd !== undefined && { userBudgetUsd: l.user_budget_usd }),
        ...(l.rpm !== undefined && { rpm: l.rpm }),
        ...(l.tpm !== undefined && { tpm: l.tpm }),
      },
    ]),
  );
  const chat = new ChatService({
    table,
    prices,
    router,
    store,
    rendezvous,
    limits,
    ledger: overrides.ledger ?? ledger!,
    estimator,
    settings: {
      cacheTtlS: config.LLM_CACHE_TTL_S,
      maxEntryBytes: config.LLM_CACHE_MAX_ENTRY_BYTES,
      defaultMaxOutputTokens: config.LLM_DEFAULT_MAX_OUTPUT_TOKENS,
      maxTimeoutMs: config.LLM_TIMEOUT_MS,
      defaultPolicy: {
        budgetUsd: config.LLM_TENANT_BUDGET_USD,
        userBudgetUsd: config.LLM_USER_BUDGET_USD,
        rpm: config.LLM_TENANT_RPM,
        tpm: config.LLM_TENANT_TPM,
      },
      tenantPolicies,
    },
  });

  const health = new HealthRegistry(LLM_PROXY_SERVICE);
  health.add('nats', () => bus.health());
  health.add('redis', () =>
    redis.configured
      ? redis.status()
      : { status: 'degraded', detail: 'REDIS_URL not set: in-process cache, coalescing, budgets and limits' },
  );
  if (ledger) {
    const writer = ledger;
    health.add('ledger', async (): Promise<DependencyCheck> => {
      const db = await sql!.health();
      const w = writer.health();
      if (db.status !== 'ok')
        return { status: 'degraded', detail: `${db.detail ?? 'database down'}; ${w.detail ?? ''}` };
      return w;
    });
  }
  health.add('providers', (): DependencyCheck => {
    const open = Object.entries(router.circuits()).filter(([, s]) => s !== 'closed');
    return open.length === 0
      ? { status: 'ok', detail: `${providers.size} providers` }
      : { status: 'degraded', detail: open.map(([p, s]) => `${p}: ${s}`).join(', ') };
  });

  // Cancellations go to every replica (one queue group each): only the replica running the request acts.
  const cancelSub = bus.subscribe(
    LLM.cancel.subject,
    `${LLM_PROXY_SERVICE}-cancel-${health.instance}`,
    (msg) => {
      try {
        const { request_id } = LLM.cancel.request.parse(decodeJson(msg.data));
        const cancelled = chat.cancel(request_id);
        if (msg.replyable && cancelled) msg.reply(encodeJson({ cancelled }), new Map());
      } catch (err) {
        if (msg.replyable) {
          const reply = errorReply(
            new RegattaError('INVALID_ARGUMENT', `bad cancel request: ${(err as Error).message}`),
          );
          msg.reply(reply.data, reply.headers);
        }
      }
    },
  );
  const gauges = setInterval(() => void chat.refreshGauges().catch(() => undefined), 15_000);
  gauges.unref();

  const { app } = await startMicroservice({
    service: LLM_PROXY_SERVICE,
    module: LlmProxyModule.forRoot({ health, chat }),
    bus,
    contracts: [HEALTH['llm-proxy'], LLM.chat, LLM.models, LLM.clearCache],
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
    defaultTimeoutMs: config.REQUEST_TIMEOUT_MS,
  });
  health.setReady();
  log.info(
    {
      routing: table.version,
      prices: prices.version,
      models: table.models.size,
      cache: store.kind,
      ledger: sql?.kind ?? 'custom',
    },
    'llm-proxy ready',
  );
  return {
    name: LLM_PROXY_SERVICE,
    health,
    chat,
    ledger,
    close: async () => {
      clearInterval(gauges);
      await cancelSub.drain();
      await app.close();
      await chat.drain();
      await ledger?.close();
      await rendezvous?.close();
      await Promise.all([...providers.values()].map((p) => p.close()));
      await estimator.close();
      if (!overrides.redis) await redis.close();
      if (!overrides.sql) await sql?.close();
    },
  };
}
