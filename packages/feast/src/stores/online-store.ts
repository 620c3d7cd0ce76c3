import { RegattaError, type DependencyCheck } from '@regatta/contracts';
import type { JsonFeatureValue } from '../value.js';

/** Features of one view to read for one entity. */
export interface OnlineReadRequest {
  readonly view: string;
  /** serialize_entity_key bytes (without the project suffix Redis adds). */
  readonly entityKey: Uint8Array;
  /**
   * Feature names, in the order results are wanted. Pass the same array object for every entity of a view:
   * stores cache per-array work (such as Redis field names) by identity.
   */
  readonly features: readonly string[];
}

/** What the store holds for one OnlineReadRequest, aligned with its `features`. */
export interface OnlineReadResult {
  /** Decoded JSON value; null when the stored value is null; undefined when nothing is stored. */
  readonly values: (JsonFeatureValue | undefined)[];
  /** Event time (epoch ms) of each stored value; undefined where nothing is stored or no time was kept. */
  readonly eventTimesMs: (number | undefined)[];
}

/** One entity's row of a write: feature values (serialized `feast.types.Value`) aligned with the batch's features. */
export interface OnlineWriteRow {
  readonly entityKey: Uint8Array;
  readonly values: readonly Uint8Array[];
  readonly eventTimeMs: number;
  readonly createdTimeMs?: number;
}

/** Rows of one feature view to write. */
export interface OnlineWriteBatch {
  readonly view: string;
  readonly features: readonly string[];
  readonly rows: readonly OnlineWriteRow[];
}

/** Outcome of a write: rows stored, and rows skipped because the store already held a newer (or equal) event. */
export interface OnlineWriteResult {
  written: number;
  skipped: number;
}

/** A Feast online store in Feast's own layout. */
export interface OnlineStore {
  readonly kind: 'redis' | 'sqlite' | 'postgres' | 'memory';
  /**
   * Reads all requests (any views, any entities) in one round trip where the store allows it; results are
   * aligned with `requests`. UNAVAILABLE when the store cannot be reached.
   */
  read(requests: readonly OnlineReadRequest[]): Promise<OnlineReadResult[]>;
  /** Writes rows, never replacing a stored value with an older one. UNAVAILABLE when the store cannot be reached. */
  write(batch: OnlineWriteBatch): Promise<OnlineWriteResult>;
  /** Reachability of the store. */
  health(): Promise<DependencyCheck>;
  close(): Promise<void>;
}

/** Table name Feast's SQL stores use for a view: `<project>_<view>`. */
export function tableName(project: string, view: string): string {
  return `${project}_${view}`;
}

/** A double-quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** An empty result for a request whose store holds nothing. */
export function notFound(features: readonly string[]): OnlineReadResult {
  const n = features.length;
  return {
    values: new Array<undefined>(n).fill(undefined),
    eventTimesMs: new Array<undefined>(n).fill(undefined),
  };
}

/** UNAVAILABLE naming the store, for failures to reach it. */
export function storeUnavailable(kind: OnlineStore['kind'], err: unknown): RegattaError {
  const reason = err instanceof Error ? err.message : String(err);
  return new RegattaError('UNAVAILABLE', `online store ${kind} unavailable: ${reason}`, { store: kind });
}

/** Epoch ms of a stored SQL timestamp: a number of seconds, a Date, or ISO text (older Feast SQLite rows). */
export function sqlTimeMs(value: unknown, parse: (text: string) => number | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return value * 1000;
  if (typeof value === 'bigint') return Number(value) * 1000;
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') return parse(value);
  return undefined;
}
