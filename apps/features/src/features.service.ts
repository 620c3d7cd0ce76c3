import path from 'node:path';
import {
  type DependencyCheck,
  type FieldStatus,
  type GetFeaturesReply,
  RegattaError,
} from '@regatta/contracts';
import {
  type ColumnData,
  DataSourceType,
  type FeastRegistry,
  type FeatureRepo,
  type FeatureViewDef,
  type GetOnlineFeaturesRequest,
  type WriteSummary,
  readFeatureFile,
} from '@regatta/feast';
import { type Logger, createLogger } from '@regatta/telemetry';
import { type MaterializeOnStart } from './config.js';
import { type FeaturesApi, type StatusCounts, featuresMetrics } from './metrics.js';

/** Options of {@link FeaturesService}. */
export interface FeaturesServiceOptions {
  /** Clock for value ages; default Date.now (the repo's reader has its own for TTLs). */
  now?: () => number;
  logger?: Logger;
}

/** A `/materialize` (or `/materialize-incremental`) request after parsing: a time window and views. */
export interface MaterializeWindow {
  startMs?: number;
  endMs: number;
  /** Views to load; all online views with a file batch source when absent. */
  views?: readonly string[];
}

const EPOCH = '1970-01-01T00:00:00Z';

/**
 * The features service's logic over a Feast repository: online reads (with metrics), Feast's writes and
 * materialization, the first-start load of demo data, and health. NATS handlers and HTTP routes only parse
 * input and call this.
 */
export class FeaturesService {
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(
    readonly repo: FeatureRepo,
    options: FeaturesServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.log = options.logger ?? createLogger('features');
  }

  /**
   * Feast's get-online-features: values, statuses and event times in request order, one store round trip.
   * `maxValues` caps rows x features (replies over NATS must fit in one message).
   */
  async getFeatures(
    request: GetOnlineFeaturesRequest,
    api: FeaturesApi,
    maxValues?: number,
  ): Promise<GetFeaturesReply> {
    const started = performance.now();
    try {
      const registry = this.repo.registry.current();
      const features = requestedFeatureCount(registry, request);
      if (maxValues !== undefined) {
        const first = Object.values(request.entities)[0];
        const rows = first?.length ?? 1;
        if (rows * features > maxValues) {
          throw new RegattaError(
            'INVALID_ARGUMENT',
            `request asks for ${rows * features} values (${rows} entity rows x ${features} features); ` +
              `at most ${maxValues} per request, split it`,
          );
        }
      }
      const reply = await this.repo.reader.getOnlineFeatures(request);
      const seconds = (performance.now() - started) / 1000;
      // Metrics (counting statuses and ages walks every value) are recorded after the reply has gone out.
      setImmediate(() => {
        featuresMetrics.requestDuration.observe({ api }, seconds);
        this.record(reply, reply.metadata.feature_names.length - features);
      });
      return reply;
    } catch (err) {
      featuresMetrics.requestDuration.observe({ api }, (performance.now() - started) / 1000);
      throw err;
    }
  }

  /** Feast's push: `df` rows into every view fed by the push source (online only). */
  push(
    pushSourceName: string,
    df: ColumnData,
    to: 'online' | 'offline' | 'online_and_offline',
  ): Promise<WriteSummary[]> {
    return this.timed('push', () => this.repo.writer.push(pushSourceName, df, to));
  }

  /** Feast's write-to-online-store: `df` rows into one view. */
  writeToOnlineStore(featureView: string, df: ColumnData): Promise<WriteSummary> {
    return this.timed('write-to-online-store', () => this.repo.writer.writeToOnlineStore(featureView, df));
  }

  /** Feast's materialize: rows of the views' file batch sources inside the window into the online store. */
  materialize(window: MaterializeWindow): Promise<WriteSummary[]> {
    return this.timed('materialize', () =>
      this.repo.materializer.materialize(window.views, {
        ...(window.startMs !== undefined && { startMs: window.startMs }),
        endMs: window.endMs,
      }),
    );
  }

  /**
   * Loads the views' file batch sources at start, stamped now (sample data stays inside its TTL): every view
   * (`always`), or the views whose first source row is not in the store yet (`if-empty`). Replicas starting
   * together may both load: writes never replace newer values, so the result is the same.
   */
  async materializeOnStart(mode: MaterializeOnStart): Promise<WriteSummary[]> {
    if (mode === 'never') return [];
    const registry = this.repo.registry.registry;
    if (!registry) return [];
    const views = [...registry.featureViews.values()].filter(
      (v) => v.online && v.batchSource?.type === DataSourceType.BATCH_FILE && v.batchSource.path,
    );
    const load: string[] = [];
    for (const view of views) {
      if (mode === 'always' || !(await this.holdsFirstRow(registry, view))) load.push(view.name);
    }
    if (load.length === 0) return [];
    const summaries = await this.repo.materializer.materialize(load, { stampNow: true });
    this.log.info({ views: summaries }, 'materialized batch sources into the online store');
    return summaries;
  }

  /** Registry check: down until a registry has been read (reads answer UNAVAILABLE meanwhile). */
  registryHealth(): DependencyCheck {
    return this.repo.registry.health();
  }

  /** Online store check: down when the store cannot be reached. */
  storeHealth(): Promise<DependencyCheck> {
    return this.repo.store.health();
  }

  private async holdsFirstRow(registry: FeastRegistry, view: FeatureViewDef): Promise<boolean> {
    const file = path.resolve(this.repo.config.repoPath, view.batchSource!.path!);
    let first: ColumnData | undefined;
    try {
      for await (const chunk of readFeatureFile(file, { chunkRows: 1 })) {
        first = chunk;
        break;
      }
    } catch (err) {
      this.log.warn({ view: view.name, file, err: (err as Error).message }, 'batch source unreadable');
      return true; // nothing to load from it; materialize would fail the same way
    }
    if (!first || view.features.length === 0) return true;
    const entities: Record<string, unknown[]> = {};
    if (!registry.isEntityless(view)) {
      for (const jk of registry.joinKeys(view)) {
        const column = [jk.joinKey, jk.entity].find((c) => c !== undefined && c in first);
        if (column === undefined) return true; // the source lacks the key: materialize reports it
        entities[jk.joinKey] = [first[column]![0]];
      }
    }
    const reply = await this.repo.reader.getOnlineFeatures({
      features: [`${view.name}:${view.features[0]!.name}`],
      entities: entities as GetOnlineFeaturesRequest['entities'],
    });
    return reply.results.at(-1)?.statuses[0] !== 'NOT_FOUND';
  }

  private async timed<T>(api: FeaturesApi, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await run();
    } finally {
      featuresMetrics.requestDuration.observe({ api }, (performance.now() - started) / 1000);
    }
  }

  /** Status counts and value ages of a reply; join-key columns (the first `keyColumns`) are skipped. */
  private record(reply: GetFeaturesReply, keyColumns: number): void {
    const counts: StatusCounts = { INVALID: 0, PRESENT: 0, NULL_VALUE: 0, NOT_FOUND: 0, OUTSIDE_MAX_AGE: 0 };
    const columns = reply.results;
    const rows = columns[0]?.statuses.length ?? 0;
    const now = this.now();
    const parsed = new Map<string, number>();
    const seen: string[] = [];
    for (let r = 0; r < rows; r++) {
      // Values of one view share an event time per entity: each distinct time of a row is one observation.
      seen.length = 0;
      for (let c = Math.max(0, keyColumns); c < columns.length; c++) {
        const column = columns[c]!;
        const status = column.statuses[r]!;
        counts[status]++;
        if (status !== 'PRESENT' && status !== 'OUTSIDE_MAX_AGE') continue;
        const ts = column.event_timestamps[r]!;
        if (ts === EPOCH || seen.includes(ts)) continue;
        seen.push(ts);
        let ms = parsed.get(ts);
        if (ms === undefined) parsed.set(ts, (ms = Date.parse(ts)));
        if (Number.isFinite(ms)) featuresMetrics.valueAge.observe(Math.max(0, (now - ms) / 1000));
      }
    }
    for (const status of Object.keys(counts) as FieldStatus[]) {
      if (counts[status] > 0) featuresMetrics.values.inc({ status }, counts[status]);
    }
  }
}

/**
 * How many feature columns a request yields (the reply's other columns are join keys): its refs, or the
 * features its feature service selects. NOT_FOUND naming an unknown service or view.
 */
export function requestedFeatureCount(registry: FeastRegistry, request: GetOnlineFeaturesRequest): number {
  if (request.feature_service === undefined) return request.features?.length ?? 0;
  let n = 0;
  for (const p of registry.featureService(request.feature_service).projections) {
    n += p.features.length > 0 ? p.features.length : registry.featureView(p.viewName).features.length;
  }
  return n;
}
