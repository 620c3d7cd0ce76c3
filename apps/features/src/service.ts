import path from 'node:path';
import { ConfigError } from '@regatta/config';
import { type DependencyCheck, FEATURES, HEALTH } from '@regatta/contracts';
import {
  FeatureRepo,
  type OnlineStore,
  type RegistryFileSource,
  fsRegistrySource,
  loadRepoConfig,
} from '@regatta/feast';
import { HealthRegistry, type RunningService, startMicroservice } from '@regatta/runtime';
import { type Logger, createLogger } from '@regatta/telemetry';
import { type Bus } from '@regatta/transport';
import { FEAST_DEFAULT_HTTP_PORT, type FeaturesConfig } from './config.js';
import { type FeastHttpServer, startFeastHttpServer } from './feast-http/server.js';
import { getFeaturesRoute } from './features.controller.js';
import { FeaturesModule } from './features.module.js';
import { FeaturesService } from './features.service.js';
import { describeStore, openOnlineStore, resolveOnlineStoreConfig } from './online-store.js';

export const FEATURES_SERVICE = 'features';

/** Replacements for tests and benchmarks; anything not given is built from the config. */
export interface FeaturesOverrides {
  /** Online store to serve from instead of the configured one (closed with the service). */
  store?: OnlineStore;
  /** Clock for TTLs, stamped writes and value ages; default Date.now. */
  now?: () => number;
  /** Environment for `${VAR}` in feature_store.yaml; default process.env. */
  environment?: NodeJS.ProcessEnv;
}

/** The running features service: health, the service logic (for tests) and the Feast HTTP port, if any. */
export interface RunningFeatures extends RunningService {
  health: HealthRegistry;
  features: FeaturesService;
  /** Port the Feast-compatible HTTP API listens on; undefined when it is off or its port was taken. */
  feastHttpPort: number | undefined;
}

/** Checks between variables that their schemas cannot see; ConfigError naming each bad one. */
export function checkFeaturesConfig(config: FeaturesConfig): void {
  const problems: { variable: string; message: string }[] = [];
  if (config.FEATURES_ONLINE_STORE === 'redis' && !config.REDIS_URL)
    problems.push({ variable: 'REDIS_URL', message: 'required when FEATURES_ONLINE_STORE=redis' });
  if (config.FEATURES_ONLINE_STORE === 'postgres' && !config.DATABASE_URL)
    problems.push({ variable: 'DATABASE_URL', message: 'required when FEATURES_ONLINE_STORE=postgres' });
  if (problems.length > 0) throw new ConfigError(problems);
}

/** A registry read from `file` whatever feature_store.yaml says (FEAST_REGISTRY_PATH). */
function registryAt(file: string): RegistryFileSource {
  return { signature: () => fsRegistrySource.signature(file), read: () => fsRegistrySource.read(file) };
}

/**
 * Starts the Feast HTTP API as configured: off when the port is 0; on the configured port (a taken port is an
 * error); or on the default port, where a replica that finds it taken by another on the same host carries on
 * without it and says so in its health.
 */
export async function startConfiguredFeastHttp(
  features: FeaturesService,
  options: { configuredPort: number | undefined; defaultPort: number; host: string; logger: Logger },
): Promise<{ server: FeastHttpServer | undefined; check: DependencyCheck }> {
  const port = options.configuredPort ?? options.defaultPort;
  if (port === 0) return { server: undefined, check: { status: 'ok', detail: 'off (FEAST_HTTP_PORT=0)' } };
  try {
    const server = await startFeastHttpServer({ features, port, host: options.host, logger: options.logger });
    return { server, check: { status: 'ok', detail: `listening on ${options.host}:${server.port}` } };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || options.configuredPort !== undefined)
      throw err;
    const detail = `port ${port} is taken (another replica on this host?): Feast HTTP API off, NATS only`;
    options.logger.warn({ port }, detail);
    return { server: undefined, check: { status: 'degraded', detail } };
  }
}

/** Starts the features service on `bus`; the same code runs embedded and distributed. */
export async function createFeaturesService(deps: {
  bus: Bus;
  config: FeaturesConfig;
  overrides?: FeaturesOverrides;
}): Promise<RunningFeatures> {
  const { bus, config } = deps;
  const overrides = deps.overrides ?? {};
  const log = createLogger(FEATURES_SERVICE);
  checkFeaturesConfig(config);

  const environment = overrides.environment ?? process.env;
  const repoConfig = await loadRepoConfig(config.FEAST_REPO_PATH, environment);
  const storeConfig = resolveOnlineStoreConfig(repoConfig, config);
  const store =
    overrides.store ??
    openOnlineStore(storeConfig, repoConfig.project, { postgresPoolMax: config.DATABASE_POOL_MAX });
  const registryPath = config.FEAST_REGISTRY_PATH ? path.resolve(config.FEAST_REGISTRY_PATH) : undefined;
  let repo: FeatureRepo;
  try {
    repo = await FeatureRepo.open(config.FEAST_REPO_PATH, {
      store,
      env: environment,
      registryPollIntervalMs: config.FEAST_REGISTRY_POLL_MS,
      logger: log,
      ...(registryPath && { registrySource: registryAt(registryPath) }),
      ...(overrides.now && { now: overrides.now }),
    });
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  const features = new FeaturesService(repo, { logger: log, ...(overrides.now && { now: overrides.now }) });

  let feastHttp: FeastHttpServer | undefined;
  let app: Awaited<ReturnType<typeof startMicroservice>>['app'] | undefined;
  try {
    try {
      await features.materializeOnStart(config.FEATURES_MATERIALIZE_ON_START);
    } catch (err) {
      // A store that is down at start is reported by health; serving starts anyway and recovers with it.
      log.warn(
        { err: (err as Error).message },
        'could not load batch sources into the online store at start',
      );
    }

    const health = new HealthRegistry(FEATURES_SERVICE);
    health.add('nats', () => bus.health());
    health.add('registry', () => features.registryHealth());
    // A Redis or Postgres store is shared by every replica: while it is down each replica answers
    // UNAVAILABLE naming it, and readiness stays, so a rollout or a load balancer does not drain them all.
    // A SQLite file is the replica's own, and a replica that cannot read it is not ready.
    const storeShared = store.kind === 'redis' || store.kind === 'postgres';
    health.add(
      'online_store',
      async (): Promise<DependencyCheck> => {
        const check = await features.storeHealth();
        const where = overrides.store ? overrides.store.kind : describeStore(storeConfig);
        return { ...check, detail: check.detail ? `${where}: ${check.detail}` : where };
      },
      { gatesReadiness: !storeShared },
    );

    ({ app } = await startMicroservice({
      service: FEATURES_SERVICE,
      module: FeaturesModule.forRoot({ health, features }),
      bus,
      contracts: [HEALTH.features, FEATURES.get],
      shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
      defaultTimeoutMs: config.REQUEST_TIMEOUT_MS,
      // A leaf service: it calls no other service, so handlers need no AsyncLocalStorage scope.
      requestScope: false,
      routes: { [FEATURES.get.subject]: getFeaturesRoute(features) },
    }));

    const started = await startConfiguredFeastHttp(features, {
      configuredPort: config.FEAST_HTTP_PORT,
      defaultPort: FEAST_DEFAULT_HTTP_PORT,
      host: config.FEAST_HTTP_HOST,
      logger: log,
    });
    feastHttp = started.server;
    const feastHttpCheck = started.check;
    health.add('feast_http', () => feastHttpCheck);
    health.setReady();
    log.info(
      {
        project: repoConfig.project,
        store: describeStore(storeConfig),
        registry: registryPath ?? repoConfig.registry.path,
        feast_http: feastHttp?.port ?? null,
      },
      'features ready',
    );
    const http = feastHttp;
    const nest = app;
    return {
      name: FEATURES_SERVICE,
      health,
      features,
      feastHttpPort: http?.port,
      // HTTP stops taking requests first, then NATS drains in-flight ones, then the store closes.
      close: async () => {
        await http?.close();
        await nest.close();
        await repo.close();
      },
    };
  } catch (err) {
    await feastHttp?.close().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await repo.close().catch(() => undefined);
    throw err;
  }
}
