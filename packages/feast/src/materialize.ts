import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { RegattaError } from '@regatta/contracts';
import { parse as parseCsv } from 'csv-parse';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import type { RegistrySource } from './reader.js';
import { DataSourceType, type FeatureViewDef } from './registry/model.js';
import { toEpochMs } from './time.js';
import type { ColumnData, OnlineFeatureWriter, WriteSummary } from './writer.js';

/** Formats a feature file can have. */
export type FeatureFileFormat = 'csv' | 'parquet';

/** Options of reading a feature file. */
export interface ReadFeatureFileOptions {
  /** Default: from the extension (`.parquet`/`.pq` is Parquet, anything else CSV). */
  format?: FeatureFileFormat;
  /** Rows per chunk; default 5000. */
  chunkRows?: number;
}

/** Format of a feature file by its extension. */
export function featureFileFormat(file: string): FeatureFileFormat {
  const ext = path.extname(file).toLowerCase();
  return ext === '.parquet' || ext === '.pq' ? 'parquet' : 'csv';
}

function toColumns(rows: readonly Record<string, unknown>[]): Record<string, unknown[]> {
  const columns: Record<string, unknown[]> = {};
  rows.forEach((row, r) => {
    for (const [name, value] of Object.entries(row)) {
      (columns[name] ??= new Array<unknown>(rows.length).fill(null))[r] = value;
    }
  });
  return columns;
}

/**
 * Reads a CSV (header row, cells as text) or Parquet file as column dicts of at most `chunkRows` rows, so large
 * files are written in bounded batches.
 */
export async function* readFeatureFile(
  file: string,
  options: ReadFeatureFileOptions = {},
): AsyncGenerator<ColumnData> {
  const chunkRows = options.chunkRows ?? 5000;
  try {
    await access(file);
  } catch {
    throw new RegattaError('INVALID_ARGUMENT', `feature file ${file} cannot be read`);
  }
  if ((options.format ?? featureFileFormat(file)) === 'parquet') {
    const buffer = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buffer);
    const total = Number(metadata.num_rows);
    for (let start = 0; start < total; start += chunkRows) {
      const rows = await parquetReadObjects({
        file: buffer,
        metadata,
        rowStart: start,
        rowEnd: Math.min(total, start + chunkRows),
      });
      yield toColumns(rows);
    }
    return;
  }
  const parser = createReadStream(file).pipe(
    parseCsv({ columns: true, skip_empty_lines: true, trim: true, bom: true }),
  );
  let batch: Record<string, unknown>[] = [];
  try {
    for await (const record of parser as AsyncIterable<Record<string, string>>) {
      batch.push(record);
      if (batch.length >= chunkRows) {
        yield toColumns(batch);
        batch = [];
      }
    }
  } catch (err) {
    if (err instanceof RegattaError) throw err;
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `feature file ${file} is not valid CSV: ${(err as Error).message}`,
    );
  }
  if (batch.length > 0) yield toColumns(batch);
}

/** Options of a materialization. */
export interface MaterializeOptions {
  /** Stamp every row with the current time instead of its own (demos: sample data stays inside the TTL). */
  stampNow?: boolean;
  /** Only rows with event time at or after this (epoch ms). */
  startMs?: number;
  /** Only rows with event time at or before this (epoch ms). */
  endMs?: number;
  format?: FeatureFileFormat;
  chunkRows?: number;
}

function add(total: WriteSummary, part: WriteSummary): void {
  total.rows += part.rows;
  total.written += part.written;
  total.skipped += part.skipped;
}

/**
 * Loads files of feature rows (entity key columns, feature columns, event timestamp, optional created
 * timestamp) into the online store: one file into one view, or every view from its file batch source.
 */
export class Materializer {
  constructor(
    private readonly registry: RegistrySource,
    private readonly writer: OnlineFeatureWriter,
    /** Directory that relative source paths are resolved against (the feature repository). */
    private readonly repoPath: string,
  ) {}

  /** Writes the rows of `file` into feature view `view`. */
  async materializeFile(file: string, view: string, options: MaterializeOptions = {}): Promise<WriteSummary> {
    const def = this.registry.current().featureView(view);
    const total: WriteSummary = { feature_view: def.name, rows: 0, written: 0, skipped: 0 };
    const tsField = def.batchSource?.timestampField ?? 'event_timestamp';
    const resolved = path.resolve(this.repoPath, file);
    const readOptions = {
      ...(options.format && { format: options.format }),
      ...(options.chunkRows && { chunkRows: options.chunkRows }),
    };
    for await (const chunk of readFeatureFile(resolved, readOptions)) {
      const rows = this.window(chunk, tsField, options);
      add(
        total,
        await this.writer.writeToOnlineStore(def.name, rows, {
          stampNow: options.stampNow ?? false,
          timestampField: tsField,
        }),
      );
    }
    return total;
  }

  /** Materializes `views` (default: every online view with a file batch source) from their batch source files. */
  async materialize(
    views: readonly string[] | undefined,
    options: MaterializeOptions = {},
  ): Promise<WriteSummary[]> {
    const registry = this.registry.current();
    const selected: FeatureViewDef[] = views
      ? views.map((name) => registry.featureView(name))
      : [...registry.featureViews.values()].filter(
          (v) => v.online && v.batchSource?.type === DataSourceType.BATCH_FILE,
        );
    const summaries: WriteSummary[] = [];
    for (const view of selected) {
      const source = view.batchSource;
      if (source?.type !== DataSourceType.BATCH_FILE || !source.path) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `feature view ${view.name} has no file batch source to materialize from`,
        );
      }
      summaries.push(await this.materializeFile(source.path, view.name, options));
    }
    return summaries;
  }

  private window(chunk: ColumnData, tsField: string, options: MaterializeOptions): ColumnData {
    if (options.startMs === undefined && options.endMs === undefined) return chunk;
    const times = chunk[tsField] ?? chunk.event_timestamp;
    if (!times)
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `feature file has no ${tsField} column to select a time window by`,
      );
    const keep: number[] = [];
    times.forEach((t, r) => {
      const ms = toEpochMs(t, `${tsField} (row ${r})`);
      if (
        (options.startMs === undefined || ms >= options.startMs) &&
        (options.endMs === undefined || ms <= options.endMs)
      )
        keep.push(r);
    });
    const out: Record<string, unknown[]> = {};
    for (const [name, values] of Object.entries(chunk)) out[name] = keep.map((r) => values[r]);
    return out;
  }
}
