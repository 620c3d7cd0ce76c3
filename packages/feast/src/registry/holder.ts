import { readFile, stat } from 'node:fs/promises';
import { RegattaError, type DependencyCheck } from '@regatta/contracts';
import { counter, createLogger, gauge, type Logger } from '@regatta/telemetry';
import { parseRegistry } from './codec.js';
import type { FeastRegistry } from './model.js';

/** File access of a RegistryHolder (injectable so tests can stage partial writes and failures). */
export interface RegistryFileSource {
  /** A value that changes whenever the file may have changed; undefined when the file does not exist. */
  signature(path: string): Promise<string | undefined>;
  read(path: string): Promise<Uint8Array>;
}

/** Node's file system as a RegistryFileSource: the signature is mtime, ctime, size and inode. */
export const fsRegistrySource: RegistryFileSource = {
  async signature(path) {
    try {
      const s = await stat(path);
      return `${s.mtimeMs}:${s.ctimeMs}:${s.size}:${s.ino}`;
    } catch {
      return undefined;
    }
  },
  read: (path) => readFile(path),
};

/** Options of a RegistryHolder. */
export interface RegistryHolderOptions {
  /** Path of the file registry. */
  path: string;
  /** Project whose objects are kept. */
  project: string;
  /** How often the file is checked for changes; default 1000 ms. */
  pollIntervalMs?: number;
  /** Quiet time after a change before reloading, so a file being written is read once it is complete; default 250 ms. */
  debounceMs?: number;
  source?: RegistryFileSource;
  logger?: Logger;
}

const reloads = counter({
  name: 'feast_registry_reloads_total',
  help: 'Feature registry loads by result',
  labelNames: ['result'] as const,
});
const loadedGauge = gauge({
  name: 'feast_registry_loaded',
  help: '1 when a feature registry is being served',
});

/**
 * Holds the parsed registry in memory: loads it at start and again when the file changes (stat polling with a
 * debounce), never per request. A file that cannot be read or parsed leaves the last good registry in place.
 */
export class RegistryHolder {
  private registryValue: FeastRegistry | undefined;
  private loadedAtMs: number | undefined;
  private lastError: string | undefined;
  private seenSignature: string | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly listeners = new Set<(registry: FeastRegistry) => void>();
  private readonly source: RegistryFileSource;
  private readonly log: Logger;
  private readonly pollIntervalMs: number;
  private readonly debounceMs: number;

  constructor(private readonly options: RegistryHolderOptions) {
    this.source = options.source ?? fsRegistrySource;
    this.log = options.logger ?? createLogger('feast-registry');
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.debounceMs = options.debounceMs ?? 250;
  }

  /** Loads the registry once and starts watching the file. Never throws: `health()` reports a failed load. */
  async start(): Promise<void> {
    this.seenSignature = await this.source.signature(this.options.path);
    await this.reload();
    if (!this.pollTimer) {
      this.pollTimer = setInterval(() => void this.poll(), this.pollIntervalMs);
      this.pollTimer.unref();
    }
  }

  /** Stops watching; the registry stays readable. */
  stop(): void {
    clearInterval(this.pollTimer);
    clearTimeout(this.debounceTimer);
    this.pollTimer = undefined;
    this.debounceTimer = undefined;
  }

  /** The registry being served, or undefined when none could ever be read. */
  get registry(): FeastRegistry | undefined {
    return this.registryValue;
  }

  /** The registry being served; UNAVAILABLE when none could ever be read. */
  current(): FeastRegistry {
    if (this.registryValue) return this.registryValue;
    throw new RegattaError('UNAVAILABLE', `feature registry not loaded: ${this.lastError ?? 'not started'}`);
  }

  /** `down` (503-worthy) until a registry has been read; `degraded` while a newer file fails to load. */
  health(): DependencyCheck {
    if (!this.registryValue) {
      return {
        status: 'down',
        detail: `registry ${this.options.path} not loaded: ${this.lastError ?? 'not started'}`,
      };
    }
    const loaded = new Date(this.loadedAtMs ?? 0).toISOString();
    if (this.lastError) {
      return {
        status: 'degraded',
        detail: `serving registry loaded ${loaded}; newer file failed: ${this.lastError}`,
      };
    }
    return {
      status: 'ok',
      detail: `project ${this.registryValue.project}: ${this.registryValue.featureViews.size} feature views, loaded ${loaded}`,
    };
  }

  /** Calls `listener` with every newly loaded registry; returns a function that unsubscribes. */
  onChange(listener: (registry: FeastRegistry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads and parses the file now; true when a new registry is being served. */
  async reload(): Promise<boolean> {
    const { path, project } = this.options;
    let registry: FeastRegistry;
    try {
      const bytes = await this.source.read(path);
      registry = parseRegistry(bytes, project);
    } catch (err) {
      const message =
        err instanceof RegattaError ? err.message : `cannot read ${path}: ${(err as Error).message}`;
      this.lastError = message;
      reloads.inc({ result: 'error' });
      this.log.warn(
        { path, err: message, serving_previous: this.registryValue !== undefined },
        'registry load failed',
      );
      return false;
    }
    this.registryValue = registry;
    this.loadedAtMs = Date.now();
    this.lastError = undefined;
    reloads.inc({ result: 'ok' });
    loadedGauge.set(1);
    this.log.info({ path, project, feature_views: registry.featureViews.size }, 'registry loaded');
    for (const listener of this.listeners) listener(registry);
    return true;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const signature = await this.source.signature(this.options.path);
      if (signature === undefined || signature === this.seenSignature) return;
      this.seenSignature = signature;
      clearTimeout(this.debounceTimer);
      this.debounceTimer = setTimeout(() => void this.reload(), this.debounceMs);
      this.debounceTimer.unref();
    } finally {
      this.polling = false;
    }
  }
}
