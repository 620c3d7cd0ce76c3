import { commonEnv, databaseEnv, defineEnv, env, metricsEnv, redisEnv, type ConfigOf } from '@regatta/config';
import { z } from 'zod';

/** Port of Feast's own feature server, which Feast clients default to. */
export const FEAST_DEFAULT_HTTP_PORT = 6566;

/** Which online store the service serves from. */
export const ONLINE_STORE_CHOICES = ['auto', 'repo', 'sqlite', 'redis', 'postgres'] as const;
export type OnlineStoreChoice = (typeof ONLINE_STORE_CHOICES)[number];

/** When the views' file batch sources are loaded into the online store at start. */
export const MATERIALIZE_ON_START = ['if-empty', 'always', 'never'] as const;
export type MaterializeOnStart = (typeof MATERIALIZE_ON_START)[number];

/** Environment of the features service. */
export const featuresEnv = defineEnv({
  ...commonEnv,
  ...redisEnv,
  ...databaseEnv,
  ...metricsEnv(9102),
  FEAST_REPO_PATH: {
    schema: env.path('apps/features/feature_repo'),
    doc: 'Feast feature repository (feature_store.yaml)',
  },
  FEAST_REGISTRY_PATH: {
    schema: env.optionalString(),
    doc: 'registry.db; default: the path in feature_store.yaml',
  },
  FEAST_REGISTRY_POLL_MS: {
    schema: env.int(1000, 50, 3_600_000),
    doc: 'how often the registry file is checked for changes (it is reloaded when it changes, never per request)',
  },
  FEAST_HTTP_PORT: {
    schema: z.coerce.number().int().min(0).max(65535).optional(),
    doc:
      'port of the Feast-compatible HTTP API (0 = off). Unset: 6566, and a replica that finds 6566 taken by another ' +
      'on the same host serves NATS only (health says so); set explicitly, a taken port stops the service',
    defaultDoc: String(FEAST_DEFAULT_HTTP_PORT),
  },
  FEAST_HTTP_HOST: {
    schema: env.string('0.0.0.0'),
    doc: 'interface the Feast-compatible HTTP API listens on',
  },
  FEATURES_ONLINE_STORE: {
    schema: z.enum(ONLINE_STORE_CHOICES).default('auto'),
    doc:
      "online store: repo = feature_store.yaml's; sqlite = FEATURES_SQLITE_PATH; redis = REDIS_URL; postgres = " +
      "DATABASE_URL; auto = Redis at REDIS_URL when set and feature_store.yaml names a local SQLite file, else the repo's",
  },
  FEATURES_SQLITE_PATH: {
    schema: env.optionalString(),
    doc: 'SQLite file when FEATURES_ONLINE_STORE=sqlite',
    defaultDoc: 'REGATTA_DATA_DIR/features/online_store.db',
  },
  FEATURES_PG_SCHEMA: {
    schema: env.string('public'),
    doc: 'schema of the <project>_<view> tables when FEATURES_ONLINE_STORE=postgres',
  },
  FEATURES_MATERIALIZE_ON_START: {
    schema: z.enum(MATERIALIZE_ON_START).default('if-empty'),
    doc:
      "load each view's file batch source into the online store at start, stamped with the current time (demo data); " +
      'if-empty: only when the first row of a source is not in the store',
  },
});
export type FeaturesConfig = ConfigOf<typeof featuresEnv>;
