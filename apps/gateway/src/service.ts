import path from 'node:path';
import { type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type MicroserviceOptions } from '@nestjs/microservices';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type RedisHandle, connectRedis } from '@regatta/cache';
import { GATEWAY, HEALTH, SERVICES, type DependencyCheck } from '@regatta/contracts';
import { type SqlClient } from '@regatta/db';
import { HealthRegistry, type RunningService, startAdminServer } from '@regatta/runtime';
import { type Logger, createLogger } from '@regatta/telemetry';
import { type Bus, PassThroughRpcFilter, RegattaServer, RpcClient } from '@regatta/transport';
import { ApiKeyAdmin } from './auth/admin-keys.service.js';
import { ApiKeyAuthenticator } from './auth/authenticator.js';
import { announceKeyRevocation } from './auth/revocation.js';
import { type ApiKeyStore, SqlApiKeyStore } from './auth/key-store.js';
import { type GatewayConfig, adminKeyOf, checkGatewayConfig } from './config.js';
import { SLO_SNAPSHOT, getSloMonitor, registerSloMetrics } from '@regatta/slo';
import { openGatewayDatabase } from './db.js';
import { DecisionCostMeter } from './decisions/cost.js';
import { DecisionLog } from './decisions/decision-log.js';
import { DecisionsService } from './decisions/decisions.service.js';
import { loadFlows } from './decisions/flow.js';
import { GatewayModule } from './gateway.module.js';
import { installEdge } from './http/edge.js';
import { HttpErrorFilter, clientErrorHandler, frameworkErrorHandler } from './http/errors.js';
import { installPromptClose } from './http/connections.js';
import { installApiMetrics } from './http/metrics.js';
import { installTracing } from './http/tracing.js';
import { RouteCatalog } from './http/openapi.js';
import { installRequestContext } from './http/request-context.js';
import { installSecurity } from './http/security.js';
import { installValidation } from './http/validation.js';
import { InFlightLimiter } from './limits/in-flight.js';
import { GatewayPeers } from './limits/peers.js';
import { RateLimiter } from './limits/rate-limiter.js';
import { Downstream } from './resilience/downstream.js';

export const GATEWAY_SERVICE = 'gateway';

export interface RunningGateway extends RunningService {
  readonly port: number;
  readonly url: string;
  /** Port of the admin listener (/metrics, /health, /ready), when ADMIN_PORT is set. */
  readonly adminPort: number | undefined;
  readonly health: HealthRegistry;
  readonly app: NestFastifyApplication;
  readonly downstream: Downstream;
}

/** What {@link createGateway} needs; everything but `bus` and `config` has a default built from `config`. */
export interface CreateGatewayDeps {
  bus: Bus;
  config: GatewayConfig;
  /** Public port (default PORT; 0 picks a free one). */
  port?: number;
  /** Index of this worker in cluster mode (its admin listener is ADMIN_PORT + index). */
  workerIndex?: number;
  /** API keys (default: the `gateway_api_keys` table in DATABASE_URL or embedded PGlite). */
  keyStore?: ApiKeyStore;
  /** Redis for shared rate limits (default: REDIS_URL; in-process limits without it). */
  redis?: RedisHandle;
  /** More HTTP controllers (routes of an embedding app, tests). */
  controllers?: Type<unknown>[];
}

/** The decisions of the gateway: flows from FLOWS_DIR, the decision log in the gateway's database. */
async function openDecisions(
  config: GatewayConfig,
  sql: SqlClient,
  downstream: Downstream,
  closers: (() => Promise<void>)[],
) {
  const flows = loadFlows(config.FLOWS_DIR);
  const log = await DecisionLog.open(sql, {
    maxBuffer: config.DECISION_LOG_BUFFER,
    spoolDir: path.join(config.REGATTA_DATA_DIR, 'decisions-spool'),
  });
  // Closed after the HTTP server (closers run in reverse): every accepted decision is written first.
  closers.push(() => log.close());
  const cost = new DecisionCostMeter();
  closers.push(() => Promise.resolve(cost.close()));
  return { service: new DecisionsService(flows, downstream, log, cost), log };
}

async function downstreamCheck(
  client: RpcClient,
  service: Exclude<(typeof SERVICES)[number], 'gateway'>,
): Promise<DependencyCheck> {
  try {
    const reply = await client.request(HEALTH[service], {}, { timeoutMs: 500 });
    const detail = Object.entries(reply.checks)
      .filter(([, c]) => c.status !== 'ok')
      .map(([name, c]) => `${name}: ${c.status}${c.detail ? ` (${c.detail})` : ''}`)
      .join('; ');
    return reply.ready
      ? { status: reply.status, ...(detail && { detail }) }
      : { status: 'down', detail: 'not ready' };
  } catch (err) {
    return { status: 'down', detail: (err as Error).message };
  }
}

/** How long a revoking gateway waits for the other replicas to confirm they forgot the key. */
const REVOCATION_WINDOW_MS = 250;

/**
 * Asks every gateway replica (this one included) to forget a revoked key and logs how many answered. A
 * failure is logged, never thrown: the key is revoked in the store either way, and replicas that did not
 * hear it stop trusting it when their cache entry expires.
 */
async function announceRevocation(client: RpcClient, keyId: string, log: Logger): Promise<void> {
  try {
    const replicas = await announceKeyRevocation(client, keyId, REVOCATION_WINDOW_MS);
    log.info({ keyId, replicas }, 'revoked API key forgotten by the gateway replicas that answered');
  } catch (err) {
    log.warn(
      { keyId, err: err instanceof Error ? err.message : String(err) },
      'could not announce a revoked API key; other replicas drop it when their cache entry expires',
    );
  }
}

/** Starts the gateway's HTTP server and its NATS handlers on `bus`. */
export async function createGateway(deps: CreateGatewayDeps): Promise<RunningGateway> {
  const { bus, config } = deps;
  checkGatewayConfig(config, bus.kind === 'in-process' ? 'embedded' : 'distributed');
  const log = createLogger(GATEWAY_SERVICE);
  const closers: (() => Promise<void>)[] = [];
  // Stops in reverse order of start: HTTP first, then the stores it used. Safe to call twice.
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  };

  try {
    const admin = adminKeyOf(config);
    if (admin.development) {
      // The development key is public (README); staging and production refuse to start without a key.
      log.warn(
        { adminKey: admin.key },
        `REGATTA_ADMIN_KEY is unset: the development admin key is accepted (ENVIRONMENT=${config.ENVIRONMENT})`,
      );
    }

    let sql: SqlClient | undefined;
    let keyStore = deps.keyStore;
    let sqlKeyStore: SqlApiKeyStore | undefined;
    if (!keyStore) {
      const db = await openGatewayDatabase(config);
      closers.push(() => db.close());
      const store = new SqlApiKeyStore(db);
      closers.push(() => Promise.resolve(store.close()));
      // With the database up the table is there before the gateway serves; with it away the gateway
      // starts anyway (admin key only, tenant keys 503 UNAVAILABLE) and creates the table once it is back.
      if (!(await store.migrateInBackground(log).firstAttempt))
        log.warn('the database is unreachable: serving without the API key store until it is back');
      sql = db;
      keyStore = store;
      sqlKeyStore = store;
    }
    let redis = deps.redis;
    if (!redis) {
      const handle = connectRedis(config.REDIS_URL, { name: GATEWAY_SERVICE, logger: log });
      closers.push(() => handle.close());
      redis = handle;
    }

    const client = new RpcClient({
      bus,
      defaultTimeoutMs: config.REQUEST_TIMEOUT_MS,
      retryBudget: config.RETRY_BUDGET,
    });
    const downstream = new Downstream(client, {
      failures: config.BREAKER_FAILURES,
      halfOpenAfterMs: config.BREAKER_HALF_OPEN_MS,
    });
    const decisions = sql ? await openDecisions(config, sql, downstream, closers) : undefined;
    const authenticator = new ApiKeyAuthenticator({
      store: keyStore,
      adminKey: admin.key,
      pepper: config.API_KEY_PEPPER,
      cacheTtlMs: config.API_KEY_CACHE_TTL_MS,
    });
    const peers = new GatewayPeers({ client, everyMs: config.RATE_LIMIT_PEERS_INTERVAL_MS, logger: log });
    closers.push(() => Promise.resolve(peers.close()));
    const limiter = new RateLimiter({ redis, localShare: () => peers.count });
    const catalog = new RouteCatalog();

    // Only the replica's own NATS connection gates readiness. The database and the downstream services
    // are shared by every replica: when one is down, draining all replicas would also take away what
    // still works (the admin key, cached tenant keys, routes of the other services), so they are
    // reported, and routes that need them answer 503 UNAVAILABLE saying why.
    const shared = { gatesReadiness: false };
    const health = new HealthRegistry(GATEWAY_SERVICE);
    health.add('nats', () => bus.health());
    if (sql) {
      const db = sql;
      health.add('database', () => db.health(), shared);
    }
    if (sqlKeyStore) {
      const store = sqlKeyStore;
      health.add('api-keys', () => store.schemaHealth(), shared);
    }
    health.add('rate-limits', () => limiter.status(), shared);
    if (decisions) health.add('decision-log', () => decisions.log.health(), shared);
    for (const service of ['inference', 'features', 'llm-proxy'] as const)
      health.add(service, () => downstreamCheck(client, service), shared);

    const adapter = new FastifyAdapter({
      bodyLimit: config.BODY_LIMIT_BYTES,
      trustProxy: true,
      return503OnClosing: true,
      clientErrorHandler,
      frameworkErrors: frameworkErrorHandler,
      // A client has this long to send its whole request (slow uploads cannot hold a socket forever).
      requestTimeout: 30_000,
    });
    const fastify = adapter.getInstance();
    installPromptClose(fastify);
    // Hook order is the order of these calls: ids and timing, CORS and security headers, then the
    // edge (shedding, deadline, auth, rate limit) — all before a body is read.
    installRequestContext(fastify);
    installTracing(fastify);
    catalog.attach(fastify);
    installValidation(fastify);
    await installSecurity(fastify, {
      origins: config.CORS_ORIGINS,
      credentials: config.CORS_CREDENTIALS,
      maxAgeS: config.CORS_MAX_AGE_S,
    });
    installEdge(fastify, {
      authenticator,
      limiter,
      inFlight: new InFlightLimiter(config.MAX_IN_FLIGHT),
      defaultRate: { ratePerS: config.RATE_LIMIT_PER_S, burst: config.RATE_LIMIT_BURST },
      routeTimeoutMs: config.ROUTE_TIMEOUT_MS,
    });
    registerSloMetrics();
    getSloMonitor().serves(GATEWAY_SERVICE);
    installApiMetrics(fastify, (ms, success) => getSloMonitor().recordApi(ms, success));

    const app = await NestFactory.create<NestFastifyApplication>(
      GatewayModule.forRoot({
        health,
        client,
        downstream,
        keys: new ApiKeyAdmin(keyStore, authenticator, (keyId) => announceRevocation(client, keyId, log)),
        catalog,
        sql,
        options: {
          metricsToken: config.METRICS_TOKEN,
          openMetrics: config.ENVIRONMENT !== 'production',
        },
        decisions: decisions?.service,
        controllers: deps.controllers ?? [],
      }),
      adapter,
      // Bodies are parsed by the gateway's own JSON parser (installValidation); nothing else is accepted.
      { logger: ['error', 'warn'], bodyParser: false },
    );
    closers.push(() => app.close());
    app.useGlobalFilters(new HttpErrorFilter());
    const server = new RegattaServer({
      bus,
      service: GATEWAY_SERVICE,
      contracts: [HEALTH.gateway, SLO_SNAPSHOT.gateway, GATEWAY.keyRevoked, GATEWAY.peers],
      logger: log,
      shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
    });
    server.addRoute(GATEWAY.keyRevoked.subject, (request) => ({
      forgotten: authenticator.forget((request as { key_id: string }).key_id),
    }));
    server.addRoute(GATEWAY.peers.subject, () => ({ instance: peers.instance }));
    // Deferred, so the RPC filter is in place before the listeners are registered.
    const micro = app.connectMicroservice<MicroserviceOptions>(
      { strategy: server },
      { inheritAppConfig: false, deferInitialization: true },
    );
    micro.useGlobalFilters(new PassThroughRpcFilter());
    await app.startAllMicroservices();
    // After the subscriptions, so this replica answers its own first count. Not awaited: over NATS a count
    // waits its whole window, and until it ends the limiter counts this replica alone.
    void peers.start();
    await app.listen({ port: deps.port ?? config.PORT, host: config.HOST });
    const address = fastify.server.address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;

    let adminPort: number | undefined;
    if (config.ADMIN_PORT > 0) {
      const adminServer = await startAdminServer(config.ADMIN_PORT + (deps.workerIndex ?? 0), health);
      closers.push(() => adminServer.close());
      adminPort = adminServer.port;
    }
    health.setReady();
    log.info({ port, adminPort }, 'gateway listening');
    return {
      name: GATEWAY_SERVICE,
      port,
      url: `http://127.0.0.1:${port}`,
      adminPort,
      health,
      app,
      downstream,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
