import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RegattaError, parseOrThrow } from '@regatta/contracts';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { EntityKeySerializationVersion } from './entity-key.js';

/** SQLite online store: one database file. */
export interface SqliteOnlineStoreConfig {
  type: 'sqlite';
  /** Absolute path of the database file. */
  path: string;
}

/** Redis online store (standalone server). */
export interface RedisOnlineStoreConfig {
  type: 'redis';
  host: string;
  port: number;
  ssl: boolean;
  username?: string;
  password?: string;
  db: number;
  /** EXPIRE set on every entity hash written, when given. */
  keyTtlSeconds?: number;
}

/** Postgres online store. */
export interface PostgresOnlineStoreConfig {
  type: 'postgres';
  host: string;
  port: number;
  database: string;
  /** Schema holding the `<project>_<view>` tables. */
  schema: string;
  user: string;
  password?: string;
  /** libpq sslmode; `disable` (or absent) means plain TCP. */
  sslmode?: string;
}

/** Any supported online store. */
export type OnlineStoreConfig = SqliteOnlineStoreConfig | RedisOnlineStoreConfig | PostgresOnlineStoreConfig;

/** A parsed `feature_store.yaml`, paths resolved against the repository. */
export interface RepoConfig {
  /** Absolute path of the feature repository. */
  repoPath: string;
  project: string;
  provider: string;
  registry: {
    /** Absolute path of the file registry (`registry.db`). */
    path: string;
    /** Feast's cache TTL; Regatta reloads on change instead, so this is informational. */
    cacheTtlSeconds?: number;
  };
  onlineStore: OnlineStoreConfig;
  entityKeySerializationVersion: EntityKeySerializationVersion;
}

/** The file name Feast looks for in a feature repository. */
export const FEATURE_STORE_YAML = 'feature_store.yaml';
/** Where Feast's local provider keeps the SQLite online store, relative to the repository. */
export const DEFAULT_SQLITE_PATH = 'data/online_store.db';

const Port = z.coerce.number().int().min(1).max(65535);

const RegistrySchema = z.union([
  z.string().min(1),
  z
    .object({
      registry_type: z.literal('file').optional(),
      path: z.string().min(1),
      cache_ttl_seconds: z.coerce.number().nonnegative().optional(),
    })
    .loose(),
]);

const SqliteStoreSchema = z
  .object({ type: z.literal('sqlite'), path: z.string().min(1).default(DEFAULT_SQLITE_PATH) })
  .loose();

const RedisStoreSchema = z
  .object({
    type: z.literal('redis'),
    redis_type: z.enum(['redis', 'redis_cluster', 'redis_sentinel']).optional(),
    connection_string: z.string().min(1).default('localhost:6379'),
    key_ttl_seconds: z.coerce.number().int().positive().optional(),
  })
  .loose();

const PostgresStoreSchema = z
  .object({
    type: z.literal('postgres'),
    host: z.string().min(1).default('localhost'),
    port: Port.default(5432),
    database: z.string().min(1),
    db_schema: z.string().min(1).default('public'),
    user: z.string().min(1),
    password: z.coerce.string().optional(),
    sslmode: z.string().optional(),
  })
  .loose();

const FeatureStoreYaml = z
  .object({
    project: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_]*$/,
        'letters, digits and underscores, not starting with an underscore',
      ),
    registry: RegistrySchema,
    provider: z.string().default('local'),
    online_store: z.union([z.string(), z.object({ type: z.string().optional() }).loose()]).optional(),
    entity_key_serialization_version: z.union([z.literal(1), z.literal(2), z.literal(3)]).default(3),
  })
  .loose();

/** Replaces `${VAR}` with the environment's value, as Feast does; INVALID_ARGUMENT naming a missing variable. */
function substituteEnv(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const value = env[name];
    if (value === undefined) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `feature_store.yaml: environment variable ${name} is not set`,
      );
    }
    return value;
  });
}

/**
 * Parses a Redis `connection_string`: comma-separated `host:port` and `key=value` items, e.g.
 * `redis.internal:6380,ssl=true,password=secret,db=2`.
 */
export function parseRedisConnectionString(
  text: string,
): Omit<RedisOnlineStoreConfig, 'type' | 'keyTtlSeconds'> {
  const result: Omit<RedisOnlineStoreConfig, 'type' | 'keyTtlSeconds'> = {
    host: 'localhost',
    port: 6379,
    ssl: false,
    db: 0,
  };
  let sawHost = false;
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq < 0) {
      if (sawHost) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          'feature_store.yaml: online_store.connection_string lists several hosts; only a standalone Redis is supported',
        );
      }
      sawHost = true;
      const colon = item.lastIndexOf(':');
      result.host = colon > 0 ? item.slice(0, colon) : item;
      if (colon > 0)
        result.port = parseOrThrow(
          Port,
          item.slice(colon + 1),
          'feature_store.yaml online_store.connection_string port',
        );
      continue;
    }
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    switch (key) {
      case 'ssl':
        result.ssl = value.toLowerCase() === 'true';
        break;
      case 'password':
        result.password = value;
        break;
      case 'username':
        result.username = value;
        break;
      case 'db':
        result.db = parseOrThrow(
          z.coerce.number().int().min(0),
          value,
          'feature_store.yaml online_store.connection_string db',
        );
        break;
      default:
        // Other redis-py keyword arguments (timeouts, certificate options) have no Regatta equivalent.
        break;
    }
  }
  return result;
}

function resolvePath(repoPath: string, p: string, what: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) {
    if (p.startsWith('file://')) return resolvePath(repoPath, p.slice('file://'.length), what);
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `feature_store.yaml: ${what} ${p} is not a local file; only local paths are supported`,
    );
  }
  return path.resolve(repoPath, p);
}

/** Parses the text of a `feature_store.yaml` of the repository at `repoPath`; INVALID_ARGUMENT naming the bad key. */
export function parseRepoConfig(
  text: string,
  repoPath: string,
  env: NodeJS.ProcessEnv = process.env,
): RepoConfig {
  let raw: unknown;
  try {
    raw = parseYaml(substituteEnv(text, env));
  } catch (err) {
    if (err instanceof RegattaError) throw err;
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `feature_store.yaml is not valid YAML: ${(err as Error).message}`,
    );
  }
  const yaml = parseOrThrow(FeatureStoreYaml, raw, 'feature_store.yaml');
  const absRepo = path.resolve(repoPath);

  const registry =
    typeof yaml.registry === 'string'
      ? { path: resolvePath(absRepo, yaml.registry, 'registry') }
      : {
          path: resolvePath(absRepo, yaml.registry.path, 'registry.path'),
          ...(yaml.registry.cache_ttl_seconds !== undefined && {
            cacheTtlSeconds: yaml.registry.cache_ttl_seconds,
          }),
        };

  const store =
    typeof yaml.online_store === 'string' ? { type: yaml.online_store } : (yaml.online_store ?? {});
  const type = store.type ?? 'sqlite';
  const what = 'feature_store.yaml online_store';
  let onlineStore: OnlineStoreConfig;
  switch (type) {
    case 'sqlite': {
      const sqlite = parseOrThrow(SqliteStoreSchema, { ...store, type }, what);
      onlineStore = { type: 'sqlite', path: resolvePath(absRepo, sqlite.path, 'online_store.path') };
      break;
    }
    case 'redis': {
      const redis = parseOrThrow(RedisStoreSchema, store, what);
      if (redis.redis_type && redis.redis_type !== 'redis') {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `feature_store.yaml: online_store.redis_type ${redis.redis_type} is not supported; use a standalone Redis`,
        );
      }
      onlineStore = {
        type: 'redis',
        ...parseRedisConnectionString(redis.connection_string),
        ...(redis.key_ttl_seconds !== undefined && { keyTtlSeconds: redis.key_ttl_seconds }),
      };
      break;
    }
    case 'postgres': {
      const pg = parseOrThrow(PostgresStoreSchema, store, what);
      onlineStore = {
        type: 'postgres',
        host: pg.host,
        port: pg.port,
        database: pg.database,
        schema: pg.db_schema,
        user: pg.user,
        ...(pg.password !== undefined && { password: pg.password }),
        ...(pg.sslmode !== undefined && { sslmode: pg.sslmode }),
      };
      break;
    }
    default:
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `feature_store.yaml: online_store.type ${type} is not supported (use sqlite, redis or postgres)`,
      );
  }

  return {
    repoPath: absRepo,
    project: yaml.project,
    provider: yaml.provider,
    registry,
    onlineStore,
    entityKeySerializationVersion: yaml.entity_key_serialization_version,
  };
}

/** Reads and parses `<repoPath>/feature_store.yaml`; INVALID_ARGUMENT when it is missing or invalid. */
export async function loadRepoConfig(
  repoPath: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RepoConfig> {
  const file = path.join(repoPath, FEATURE_STORE_YAML);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `no readable ${FEATURE_STORE_YAML} in ${path.resolve(repoPath)}`,
    );
  }
  return parseRepoConfig(text, repoPath, env);
}
