import { RegattaError } from '@regatta/contracts';
import { z } from 'zod';
import {
  DUMMY_JOIN_KEY,
  serializeEntityKey,
  toEntityKeyValue,
  type EntityKeySerializationVersion,
} from './entity-key.js';
import type { RegistrySource } from './reader.js';
import { DataSourceType, type FeastRegistry, type FeatureViewDef } from './registry/model.js';
import type { OnlineStore, OnlineWriteRow } from './stores/online-store.js';
import { toEpochMs } from './time.js';
import { encodeValue, toFeastValue } from './value.js';
import { ValueType } from './value-type.js';

/** Feast's column dict (`df`): column name -> values, all columns of equal length. */
export type ColumnData = Readonly<Record<string, readonly unknown[]>>;

/** Body of Feast's `POST /write-to-online-store`. */
export const WriteToOnlineStoreRequest = z.object({
  feature_view_name: z.string().min(1),
  df: z.record(z.string(), z.array(z.unknown())),
  allow_registry_cache: z.boolean().optional(),
});
/** A write-to-online-store request. */
export type WriteToOnlineStoreRequest = z.input<typeof WriteToOnlineStoreRequest>;

/** Body of Feast's `POST /push`. */
export const PushRequest = z.object({
  push_source_name: z.string().min(1),
  df: z.record(z.string(), z.array(z.unknown())),
  to: z.enum(['online', 'offline', 'online_and_offline']).default('online'),
  allow_registry_cache: z.boolean().optional(),
});
/** A push request. */
export type PushRequest = z.input<typeof PushRequest>;

/** How rows are stamped and which columns hold their times. */
export interface WriteOptions {
  /** Replace every row's event time with the current time (demos: keeps old sample data inside the TTL). */
  stampNow?: boolean;
  /** Event time column; default the view's source `timestamp_field`, else `event_timestamp`. */
  timestampField?: string;
  /** Creation time column; default the view's source `created_timestamp_column`, else `created` when present. */
  createdField?: string;
}

/** What a write did to one feature view. */
export interface WriteSummary {
  feature_view: string;
  /** Rows received. */
  rows: number;
  /** Entity rows stored. */
  written: number;
  /** Rows not stored: the store held a newer event for the entity, or a later row of the same batch replaced it. */
  skipped: number;
}

/** Options of an OnlineFeatureWriter. */
export interface OnlineFeatureWriterOptions {
  entityKeySerializationVersion?: EntityKeySerializationVersion;
  now?: () => number;
}

const isBlank = (v: unknown) => v === undefined || v === null || v === '';

/**
 * Writes feature rows into the online store in Feast's layout: Feast's `write_to_online_store` and `push`
 * taking its `df` column dict. Values are converted to each feature's declared type; rows older than what
 * the store holds are skipped, never written over newer values.
 */
export class OnlineFeatureWriter {
  private readonly version: EntityKeySerializationVersion;
  private readonly now: () => number;

  constructor(
    private readonly registry: RegistrySource,
    private readonly store: OnlineStore,
    options: OnlineFeatureWriterOptions = {},
  ) {
    this.version = options.entityKeySerializationVersion ?? 3;
    this.now = options.now ?? Date.now;
  }

  /** Writes `df` rows of one feature view; NOT_FOUND for an unknown view, INVALID_ARGUMENT naming a bad column or cell. */
  async writeToOnlineStore(
    featureViewName: string,
    df: ColumnData,
    options: WriteOptions = {},
  ): Promise<WriteSummary> {
    const registry = this.registry.current();
    return this.writeView(registry, registry.featureView(featureViewName), df, options);
  }

  /** Feast's push: writes `df` to every feature view fed by the push source. Regatta has no offline store. */
  async push(
    pushSourceName: string,
    df: ColumnData,
    to: 'online' | 'offline' | 'online_and_offline' = 'online',
  ): Promise<WriteSummary[]> {
    if (to !== 'online') {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `push to ${to} is not supported: Regatta serves the online store only`,
      );
    }
    const registry = this.registry.current();
    const views = [...registry.featureViews.values()].filter(
      (v) => v.streamSource?.name === pushSourceName && v.streamSource.type === DataSourceType.PUSH_SOURCE,
    );
    if (views.length === 0) {
      throw new RegattaError(
        'NOT_FOUND',
        `push source ${pushSourceName} not found in project ${registry.project}`,
        {
          push_source: pushSourceName,
        },
      );
    }
    const summaries: WriteSummary[] = [];
    for (const view of views) summaries.push(await this.writeView(registry, view, df, {}));
    return summaries;
  }

  private writeView(
    registry: FeastRegistry,
    view: FeatureViewDef,
    df: ColumnData,
    options: WriteOptions,
  ): Promise<WriteSummary> {
    const columns = Object.keys(df);
    let rows = -1;
    for (const name of columns) {
      const column = df[name];
      if (!Array.isArray(column))
        throw new RegattaError('INVALID_ARGUMENT', `df.${name} must be a list of values`);
      if (rows >= 0 && column.length !== rows) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `df columns have different lengths: ${columns[0]} has ${rows} values, ${name} has ${column.length}`,
        );
      }
      rows = column.length;
    }
    rows = Math.max(rows, 0);

    const source = view.batchSource ?? view.streamSource;
    const tsField = [options.timestampField, source?.timestampField, 'event_timestamp'].find(
      (f) => f !== undefined && f in df,
    );
    if (!options.stampNow && tsField === undefined) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `df has no event timestamp column (${options.timestampField ?? source?.timestampField ?? 'event_timestamp'})`,
      );
    }
    const createdField = [options.createdField, source?.createdTimestampColumn, 'created'].find(
      (f) => f !== undefined && f in df,
    );

    const entityless = registry.isEntityless(view);
    const joinKeys = registry.joinKeys(view);
    const keyColumns = entityless
      ? []
      : joinKeys.map((jk) => {
          const column = [jk.joinKey, jk.entity].find((c) => c !== undefined && c in df);
          if (column === undefined) {
            throw new RegattaError(
              'INVALID_ARGUMENT',
              `df has no column ${jk.joinKey} (join key of feature view ${view.name})`,
            );
          }
          return df[column]!;
        });
    const missing = view.features.filter((f) => !(f.name in df)).map((f) => f.name);
    if (missing.length > 0) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `df lacks feature columns of ${view.name}: ${missing.join(', ')}`,
      );
    }

    const features = view.features.map((f) => f.name);
    const stampedAt = this.now();
    // The latest row of each entity wins within a batch, as later rows would overwrite earlier ones.
    const latest = new Map<string, OnlineWriteRow>();
    for (let r = 0; r < rows; r++) {
      const entityKey = entityless
        ? serializeEntityKey([DUMMY_JOIN_KEY], [{ kind: 'string', value: '' }], this.version)
        : serializeEntityKey(
            joinKeys.map((jk) => jk.joinKey),
            joinKeys.map((jk, k) => toEntityKeyValue(jk.joinKey, jk.valueType, keyColumns[k]![r])),
            this.version,
          );
      const eventTimeMs = options.stampNow ? stampedAt : toEpochMs(df[tsField!]![r], `${tsField} (row ${r})`);
      const createdRaw = createdField === undefined ? undefined : df[createdField]![r];
      const createdTimeMs = isBlank(createdRaw)
        ? undefined
        : toEpochMs(createdRaw, `${createdField} (row ${r})`);
      const values = view.features.map((f) => {
        const cell = df[f.name]![r];
        // CSV has no null: an empty cell of a non-text feature is a missing value.
        const input = cell === '' && f.valueType !== ValueType.STRING ? null : cell;
        return encodeValue(toFeastValue(f.valueType, input, `${f.name} (row ${r})`));
      });
      const id = entityKey.toString('latin1');
      const previous = latest.get(id);
      if (!previous || eventTimeMs >= previous.eventTimeMs) {
        latest.set(id, {
          entityKey,
          values,
          eventTimeMs,
          ...(createdTimeMs !== undefined && { createdTimeMs }),
        });
      }
    }
    return this.store.write({ view: view.name, features, rows: [...latest.values()] }).then((result) => ({
      feature_view: view.name,
      rows,
      written: result.written,
      skipped: rows - result.written,
    }));
  }
}
