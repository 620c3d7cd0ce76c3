import { describe, expect, it } from '@jest/globals';
import { parseRedisConnectionString, parseRepoConfig } from './config.js';

const REPO = '/srv/repo';

describe(parseRepoConfig.name, () => {
  it('fills Feast defaults: sqlite at data/online_store.db, local provider, key version 3', () => {
    const config = parseRepoConfig('project: regatta_demo\nregistry: data/registry.db\n', REPO);
    expect(config).toEqual({
      repoPath: REPO,
      project: 'regatta_demo',
      provider: 'local',
      registry: { path: '/srv/repo/data/registry.db' },
      onlineStore: { type: 'sqlite', path: '/srv/repo/data/online_store.db' },
      entityKeySerializationVersion: 3,
    });
  });

  it('reads the registry as an object with path and cache TTL', () => {
    const config = parseRepoConfig(
      'project: p\nregistry:\n  registry_type: file\n  path: /abs/registry.db\n  cache_ttl_seconds: 600\n',
      REPO,
    );
    expect(config.registry).toEqual({ path: '/abs/registry.db', cacheTtlSeconds: 600 });
  });

  it('reads a sqlite path relative to the repository', () => {
    const config = parseRepoConfig(
      'project: p\nregistry: r.db\nonline_store:\n  type: sqlite\n  path: online.db\n',
      REPO,
    );
    expect(config.onlineStore).toEqual({ type: 'sqlite', path: '/srv/repo/online.db' });
  });

  it('reads a redis connection string and key TTL', () => {
    const config = parseRepoConfig(
      [
        'project: p',
        'registry: r.db',
        'online_store:',
        '  type: redis',
        '  connection_string: "redis.internal:6380,ssl=true,password=s3cret,db=2"',
        '  key_ttl_seconds: 86400',
        'entity_key_serialization_version: 2',
      ].join('\n'),
      REPO,
    );
    expect(config.onlineStore).toEqual({
      type: 'redis',
      host: 'redis.internal',
      port: 6380,
      ssl: true,
      password: 's3cret',
      db: 2,
      keyTtlSeconds: 86400,
    });
    expect(config.entityKeySerializationVersion).toBe(2);
  });

  it('reads postgres settings with schema default public and ${ENV} substitution', () => {
    const config = parseRepoConfig(
      [
        'project: p',
        'registry: r.db',
        'online_store:',
        '  type: postgres',
        '  host: db.internal',
        '  port: 5433',
        '  database: feast',
        '  user: feast',
        '  password: ${PG_PASSWORD}',
      ].join('\n'),
      REPO,
      { PG_PASSWORD: 'from-env' },
    );
    expect(config.onlineStore).toEqual({
      type: 'postgres',
      host: 'db.internal',
      port: 5433,
      database: 'feast',
      schema: 'public',
      user: 'feast',
      password: 'from-env',
    });
  });

  it('names what is wrong', () => {
    expect(() => parseRepoConfig('registry: r.db\n', REPO)).toThrow(/project/);
    expect(() =>
      parseRepoConfig('project: p\nregistry: r.db\nentity_key_serialization_version: 4\n', REPO),
    ).toThrow(/entity_key_serialization_version/);
    expect(() =>
      parseRepoConfig('project: p\nregistry: r.db\nonline_store:\n  type: postgres\n  user: u\n', REPO),
    ).toThrow(/online_store.*database/);
    expect(() => parseRepoConfig('project: p\nregistry: ${NOPE}\n', REPO, {})).toThrow(/NOPE is not set/);
    expect(() => parseRepoConfig('project: p\nregistry: s3://bucket/registry.db\n', REPO)).toThrow(
      /not a local file/,
    );
    expect(() => parseRepoConfig('project: [\n', REPO)).toThrow(/not valid YAML/);
    expect(() =>
      parseRepoConfig(
        'project: p\nregistry: r.db\nonline_store:\n  type: redis\n  redis_type: redis_cluster\n',
        REPO,
      ),
    ).toThrow(/redis_cluster is not supported/);
  });
});

describe(parseRedisConnectionString.name, () => {
  it('defaults to localhost:6379 db 0 without TLS', () => {
    expect(parseRedisConnectionString('')).toEqual({ host: 'localhost', port: 6379, ssl: false, db: 0 });
    expect(parseRedisConnectionString('cache:7000')).toEqual({
      host: 'cache',
      port: 7000,
      ssl: false,
      db: 0,
    });
  });
});
