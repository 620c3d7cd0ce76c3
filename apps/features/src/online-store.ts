import path from 'node:path';
import {
  PostgresOnlineStore,
  createOnlineStore,
  type OnlineStore,
  type OnlineStoreConfig,
  type PostgresOnlineStoreConfig,
  type RedisOnlineStoreConfig,
  type RepoConfig,
  SQLITE_DRIVER,
} from '@regatta/feast';
import { RegattaError } from '@regatta/contracts';
import { type FeaturesConfig } from './config.js';

/** The store settings that decide where features are served from. */
export type StoreSettings = Pick<
  FeaturesConfig,
  | 'FEATURES_ONLINE_STORE'
  | 'FEATURES_SQLITE_PATH'
  | 'FEATURES_PG_SCHEMA'
  | 'REDIS_URL'
  | 'DATABASE_URL'
  | 'REGATTA_DATA_DIR'
>;

/** A Redis URL (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS) as a Feast Redis store config. */
export function redisStoreConfig(url: string): RedisOnlineStoreConfig {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db))
    throw new RegattaError('INVALID_ARGUMENT', `REDIS_URL database "${db}" is not a number`);
  return {
    type: 'redis',
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ssl: u.protocol === 'rediss:',
    db: db === '' ? 0 : Number(db),
    ...(u.username && { username: decodeURIComponent(u.username) }),
    ...(u.password && { password: decodeURIComponent(u.password) }),
  };
}

/** A Postgres URL as a Feast Postgres store config whose tables live in `schema`. */
export function postgresStoreConfig(url: string, schema: string): PostgresOnlineStoreConfig {
  const u = new URL(url);
  const sslmode = u.searchParams.get('sslmode');
  return {
    type: 'postgres',
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 5432,
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres',
    schema,
    user: decodeURIComponent(u.username) || 'postgres',
    ...(u.password && { password: decodeURIComponent(u.password) }),
    ...(sslmode && { sslmode }),
  };
}

/**
 * Where the service reads and writes features: feature_store.yaml's store unless FEATURES_ONLINE_STORE says
 * otherwise. `auto` swaps a local SQLite file for the shared Redis when REDIS_URL is set, so replicas of a
 * distributed fleet serve (and take pushes into) one store, while Feast repositories that name a server keep it.
 */
export function resolveOnlineStoreConfig(repo: RepoConfig, settings: StoreSettings): OnlineStoreConfig {
  const choice = settings.FEATURES_ONLINE_STORE;
  switch (choice) {
    case 'repo':
      return repo.onlineStore;
    case 'auto':
      return repo.onlineStore.type === 'sqlite' && settings.REDIS_URL
        ? redisStoreConfig(settings.REDIS_URL)
        : repo.onlineStore;
    case 'sqlite':
      return {
        type: 'sqlite',
        path: path.resolve(
          settings.FEATURES_SQLITE_PATH ??
            path.join(settings.REGATTA_DATA_DIR, 'features', 'online_store.db'),
        ),
      };
    case 'redis':
      if (!settings.REDIS_URL)
        throw new RegattaError('INVALID_ARGUMENT', 'FEATURES_ONLINE_STORE=redis needs REDIS_URL');
      return redisStoreConfig(settings.REDIS_URL);
    case 'postgres':
      if (!settings.DATABASE_URL)
        throw new RegattaError('INVALID_ARGUMENT', 'FEATURES_ONLINE_STORE=postgres needs DATABASE_URL');
      return postgresStoreConfig(settings.DATABASE_URL, settings.FEATURES_PG_SCHEMA);
  }
}

/** The store as a log line: type and location, never credentials. */
export function describeStore(config: OnlineStoreConfig): string {
  switch (config.type) {
    case 'sqlite':
      return `sqlite ${config.path} (${SQLITE_DRIVER})`;
    case 'redis':
      return `redis ${config.host}:${config.port}/${config.db}`;
    case 'postgres':
      return `postgres ${config.host}:${config.port}/${config.database} schema ${config.schema}`;
  }
}

/** Opens the store a config names for `project`; a Postgres pool is sized like the service's other clients. */
export function openOnlineStore(
  config: OnlineStoreConfig,
  project: string,
  options: { postgresPoolMax?: number } = {},
): OnlineStore {
  if (config.type === 'postgres') {
    return new PostgresOnlineStore({
      project,
      connection: config,
      ...(options.postgresPoolMax !== undefined && { maxConnections: options.postgresPoolMax }),
    });
  }
  return createOnlineStore(config, project);
}
