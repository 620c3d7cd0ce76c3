import type { DependencyCheck } from '@regatta/contracts';
import type { Logger } from '@regatta/telemetry';
import { loadRepoConfig, type OnlineStoreConfig, type RepoConfig } from './config.js';
import { Materializer } from './materialize.js';
import { OnlineFeatureReader } from './reader.js';
import { RegistryHolder, type RegistryFileSource } from './registry/holder.js';
import type { OnlineStore } from './stores/online-store.js';
import { PostgresOnlineStore } from './stores/postgres-store.js';
import { RedisOnlineStore } from './stores/redis-store.js';
import { SqliteOnlineStore } from './stores/sqlite-store.js';
import { OnlineFeatureWriter } from './writer.js';

/** The online store a `feature_store.yaml` configures, for `project`. */
export function createOnlineStore(config: OnlineStoreConfig, project: string): OnlineStore {
  switch (config.type) {
    case 'sqlite':
      return new SqliteOnlineStore({ project, path: config.path });
    case 'redis':
      return new RedisOnlineStore({ project, connection: config });
    case 'postgres':
      return new PostgresOnlineStore({ project, connection: config });
  }
}

/** Options of FeatureRepo.open. */
export interface OpenRepoOptions {
  /** Environment for `${VAR}` in feature_store.yaml; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Use this store instead of the configured one (it is closed with the repo). */
  store?: OnlineStore;
  /** Registry poll interval; default 1000 ms. */
  registryPollIntervalMs?: number;
  registrySource?: RegistryFileSource;
  logger?: Logger;
  /** Clock for TTL checks and stamped writes; default Date.now. */
  now?: () => number;
}

/**
 * A feature repository, ready to serve: its config, the registry held in memory (reloaded on change), the
 * online store, and the reader, writer and materializer on top of them.
 */
export class FeatureRepo {
  private constructor(
    readonly config: RepoConfig,
    readonly registry: RegistryHolder,
    readonly store: OnlineStore,
    readonly reader: OnlineFeatureReader,
    readonly writer: OnlineFeatureWriter,
    readonly materializer: Materializer,
  ) {}

  /**
   * Reads `<repoPath>/feature_store.yaml`, loads the registry and opens the store. A registry that cannot be
   * read yet does not fail the open: `health()` reports it and reads answer UNAVAILABLE until it appears.
   */
  static async open(repoPath: string, options: OpenRepoOptions = {}): Promise<FeatureRepo> {
    const config = await loadRepoConfig(repoPath, options.env);
    const registry = new RegistryHolder({
      path: config.registry.path,
      project: config.project,
      ...(options.registryPollIntervalMs !== undefined && { pollIntervalMs: options.registryPollIntervalMs }),
      ...(options.registrySource && { source: options.registrySource }),
      ...(options.logger && { logger: options.logger }),
    });
    await registry.start();
    const store = options.store ?? createOnlineStore(config.onlineStore, config.project);
    const clock = {
      entityKeySerializationVersion: config.entityKeySerializationVersion,
      ...(options.now && { now: options.now }),
    };
    const reader = new OnlineFeatureReader(registry, store, clock);
    const writer = new OnlineFeatureWriter(registry, store, clock);
    return new FeatureRepo(
      config,
      registry,
      store,
      reader,
      writer,
      new Materializer(registry, writer, config.repoPath),
    );
  }

  /** Registry and online store checks, e.g. for a `/health` endpoint (registry `down` means 503). */
  async health(): Promise<{ registry: DependencyCheck; online_store: DependencyCheck }> {
    return { registry: this.registry.health(), online_store: await this.store.health() };
  }

  /** Stops watching the registry and closes the store. */
  async close(): Promise<void> {
    this.registry.stop();
    await this.store.close();
  }
}
