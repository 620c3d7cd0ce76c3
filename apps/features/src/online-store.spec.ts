import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '@regatta/config';
import { type RepoConfig } from '@regatta/feast';
import { featuresEnv } from './config.js';
import {
  postgresStoreConfig,
  redisStoreConfig,
  resolveOnlineStoreConfig,
  type StoreSettings,
} from './online-store.js';
import { checkFeaturesConfig } from './service.js';

const sqliteRepo: RepoConfig = {
  repoPath: '/repo',
  project: 'demo',
  provider: 'local',
  registry: { path: '/repo/data/registry.db' },
  onlineStore: { type: 'sqlite', path: '/repo/data/online_store.db' },
  entityKeySerializationVersion: 3,
};
const redisRepo: RepoConfig = {
  ...sqliteRepo,
  onlineStore: { type: 'redis', host: 'feast-redis', port: 6380, ssl: false, db: 1 },
};

const settings = (s: Partial<StoreSettings>): StoreSettings => ({
  FEATURES_ONLINE_STORE: 'auto',
  FEATURES_SQLITE_PATH: undefined,
  FEATURES_PG_SCHEMA: 'public',
  REDIS_URL: undefined,
  DATABASE_URL: undefined,
  REGATTA_DATA_DIR: '/data',
  ...s,
});

describe(resolveOnlineStoreConfig.name, () => {
  it("serves the repo's own store by default (embedded: the SQLite file Feast would use)", () => {
    expect(resolveOnlineStoreConfig(sqliteRepo, settings({}))).toEqual(sqliteRepo.onlineStore);
  });

  it('auto: swaps a local SQLite file for the shared Redis when REDIS_URL is set', () => {
    expect(resolveOnlineStoreConfig(sqliteRepo, settings({ REDIS_URL: 'redis://cache:6379/2' }))).toEqual({
      type: 'redis',
      host: 'cache',
      port: 6379,
      ssl: false,
      db: 2,
    });
  });

  it('auto: keeps a store the repository names a server for', () => {
    expect(resolveOnlineStoreConfig(redisRepo, settings({ REDIS_URL: 'redis://cache:6379' }))).toEqual(
      redisRepo.onlineStore,
    );
  });

  it('repo: never swaps', () => {
    expect(
      resolveOnlineStoreConfig(
        sqliteRepo,
        settings({ FEATURES_ONLINE_STORE: 'repo', REDIS_URL: 'redis://x:1' }),
      ),
    ).toEqual(sqliteRepo.onlineStore);
  });

  it('sqlite: a file under REGATTA_DATA_DIR unless FEATURES_SQLITE_PATH says where', () => {
    expect(resolveOnlineStoreConfig(sqliteRepo, settings({ FEATURES_ONLINE_STORE: 'sqlite' }))).toEqual({
      type: 'sqlite',
      path: path.resolve('/data/features/online_store.db'),
    });
    expect(
      resolveOnlineStoreConfig(
        sqliteRepo,
        settings({ FEATURES_ONLINE_STORE: 'sqlite', FEATURES_SQLITE_PATH: '/tmp/f.db' }),
      ),
    ).toEqual({ type: 'sqlite', path: '/tmp/f.db' });
  });

  it('postgres: DATABASE_URL with the configured schema', () => {
    expect(
      resolveOnlineStoreConfig(
        sqliteRepo,
        settings({
          FEATURES_ONLINE_STORE: 'postgres',
          DATABASE_URL: 'postgres://u:p%40ss@db:6543/feast?sslmode=require',
          FEATURES_PG_SCHEMA: 'features',
        }),
      ),
    ).toEqual({
      type: 'postgres',
      host: 'db',
      port: 6543,
      database: 'feast',
      schema: 'features',
      user: 'u',
      password: 'p@ss',
      sslmode: 'require',
    });
  });
});

describe(redisStoreConfig.name, () => {
  it('reads TLS, credentials and the database number', () => {
    expect(redisStoreConfig('rediss://user:s%3Acret@redis.internal/3')).toEqual({
      type: 'redis',
      host: 'redis.internal',
      port: 6379,
      ssl: true,
      db: 3,
      username: 'user',
      password: 's:cret',
    });
  });

  it('is INVALID_ARGUMENT for a database that is not a number', () => {
    expect(() => redisStoreConfig('redis://h:1/x')).toThrow('REDIS_URL database "x" is not a number');
  });
});

describe(postgresStoreConfig.name, () => {
  it('defaults the user and database to postgres', () => {
    expect(postgresStoreConfig('postgres://db', 'public')).toMatchObject({
      host: 'db',
      port: 5432,
      user: 'postgres',
      database: 'postgres',
    });
  });
});

describe(checkFeaturesConfig.name, () => {
  it('names REDIS_URL when the Redis store is chosen without it', () => {
    const config = loadConfig(featuresEnv, { FEATURES_ONLINE_STORE: 'redis' });
    expect(() => checkFeaturesConfig(config)).toThrow(ConfigError);
    expect(() => checkFeaturesConfig(config)).toThrow('REDIS_URL: required when FEATURES_ONLINE_STORE=redis');
  });

  it('names DATABASE_URL when the Postgres store is chosen without it', () => {
    const config = loadConfig(featuresEnv, { FEATURES_ONLINE_STORE: 'postgres' });
    expect(() => checkFeaturesConfig(config)).toThrow(
      'DATABASE_URL: required when FEATURES_ONLINE_STORE=postgres',
    );
  });

  it('rejects an unknown store name at load', () => {
    expect(() => loadConfig(featuresEnv, { FEATURES_ONLINE_STORE: 'dynamo' })).toThrow(
      'FEATURES_ONLINE_STORE',
    );
  });
});
