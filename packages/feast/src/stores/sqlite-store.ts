import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type DependencyCheck } from '@regatta/contracts';
import type Database from 'better-sqlite3';
import { parseDateTime } from '../time.js';
import { SqliteDatabase } from './sqlite-driver.js';
import { decodeValueJson, type JsonFeatureValue } from '../value.js';
import {
  notFound,
  quoteIdent,
  sqlTimeMs,
  storeUnavailable,
  tableName,
  type OnlineReadRequest,
  type OnlineReadResult,
  type OnlineStore,
  type OnlineWriteBatch,
  type OnlineWriteResult,
} from './online-store.js';

/** Options of a SqliteOnlineStore. */
export interface SqliteOnlineStoreOptions {
  project: string;
  /** Database file; created (with its directory) when missing. */
  path: string;
}

type Row = { entity_key: Buffer; feature_name: string; value: Buffer | null; event_ts: unknown };

// SQLite has no timestamp type; Feast writes epoch seconds since 0.42 and ISO text before. Both are turned into
// seconds so that "newer" compares correctly against rows written by either.
const STORED_SECONDS = (table: string) =>
  `CASE typeof(${table}.event_ts) WHEN 'integer' THEN ${table}.event_ts WHEN 'real' THEN ${table}.event_ts ` +
  `WHEN 'text' THEN CAST(strftime('%s', ${table}.event_ts) AS INTEGER) ELSE NULL END`;

const MAX_KEYS_PER_QUERY = 500;

// better-sqlite3 binds Buffers (not other Uint8Arrays) as BLOBs.
const asBuffer = (b: Uint8Array): Buffer =>
  Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** Time of a stored SQLite timestamp: epoch seconds, or ISO text (naive text is UTC). */
function storedTimeMs(value: unknown): number | undefined {
  return sqlTimeMs(value, parseDateTime);
}

/**
 * Feast's SQLite layout: a table `<project>_<view>` per view with one row per (entity_key, feature_name).
 * better-sqlite3 is synchronous; reads of a local file take microseconds.
 */
export class SqliteOnlineStore implements OnlineStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly project: string;
  private readonly readStatements = new Map<string, Database.Statement<unknown[], Row>>();
  private readonly ensured = new Set<string>();

  constructor(options: SqliteOnlineStoreOptions) {
    this.project = options.project;
    try {
      mkdirSync(path.dirname(options.path), { recursive: true });
      this.db = new SqliteDatabase(options.path);
      // WAL lets a materialization in another process write while this one serves reads.
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 5000');
    } catch (err) {
      throw storeUnavailable('sqlite', err);
    }
  }

  private tableExists(table: string): boolean {
    if (this.ensured.has(table)) return true;
    const row = this.db
      .prepare('SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?')
      .get('table', table);
    if (row) this.ensured.add(table);
    return row !== undefined;
  }

  private readStatement(table: string, count: number): Database.Statement<unknown[], Row> {
    const id = `${table}\u0000${count}`;
    let statement = this.readStatements.get(id);
    if (!statement) {
      statement = this.db.prepare<unknown[], Row>(
        `SELECT entity_key, feature_name, value, event_ts FROM ${quoteIdent(table)} WHERE entity_key IN (${new Array(count).fill('?').join(', ')})`,
      );
      // Statements are cached per (table, key count); a bound keeps odd batch sizes from piling up.
      if (this.readStatements.size > 256) this.readStatements.clear();
      this.readStatements.set(id, statement);
    }
    return statement;
  }

  read(requests: readonly OnlineReadRequest[]): Promise<OnlineReadResult[]> {
    try {
      return Promise.resolve(this.readSync(requests));
    } catch (err) {
      return Promise.reject(storeUnavailable('sqlite', err));
    }
  }

  private readSync(requests: readonly OnlineReadRequest[]): OnlineReadResult[] {
    const results = new Array<OnlineReadResult>(requests.length);
    const byView = new Map<string, number[]>();
    requests.forEach((r, i) => {
      const list = byView.get(r.view);
      if (list) list.push(i);
      else byView.set(r.view, [i]);
    });
    for (const [view, indexes] of byView) {
      const table = tableName(this.project, view);
      if (!this.tableExists(table)) {
        for (const i of indexes) results[i] = notFound(requests[i]!.features);
        continue;
      }
      const keyIds = new Map<string, Buffer>();
      for (const i of indexes) {
        const b = asBuffer(requests[i]!.entityKey);
        keyIds.set(b.toString('latin1'), b);
      }
      const rowsByKey = new Map<string, Map<string, Row>>();
      const keys = [...keyIds.values()];
      for (let start = 0; start < keys.length; start += MAX_KEYS_PER_QUERY) {
        const chunk = keys.slice(start, start + MAX_KEYS_PER_QUERY);
        for (const row of this.readStatement(table, chunk.length).all(...chunk)) {
          const id = row.entity_key.toString('latin1');
          let features = rowsByKey.get(id);
          if (!features) rowsByKey.set(id, (features = new Map<string, Row>()));
          features.set(row.feature_name, row);
        }
      }
      for (const i of indexes) {
        const request = requests[i]!;
        const stored = rowsByKey.get(asBuffer(request.entityKey).toString('latin1'));
        if (!stored) {
          results[i] = notFound(request.features);
          continue;
        }
        const n = request.features.length;
        const result: OnlineReadResult = {
          values: new Array<JsonFeatureValue | undefined>(n),
          eventTimesMs: new Array<number | undefined>(n),
        };
        for (let f = 0; f < n; f++) {
          const row = stored.get(request.features[f]!);
          result.values[f] = row ? (row.value ? decodeValueJson(row.value) : null) : undefined;
          result.eventTimesMs[f] = row ? storedTimeMs(row.event_ts) : undefined;
        }
        results[i] = result;
      }
    }
    return results;
  }

  private ensureTable(table: string): void {
    if (this.ensured.has(table)) return;
    const t = quoteIdent(table);
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS ${t} (entity_key BLOB, feature_name TEXT, value BLOB, event_ts timestamp, created_ts timestamp, PRIMARY KEY(entity_key, feature_name));` +
        `CREATE INDEX IF NOT EXISTS ${quoteIdent(`${table}_ek`)} ON ${t} (entity_key);`,
    );
    this.ensured.add(table);
  }

  write(batch: OnlineWriteBatch): Promise<OnlineWriteResult> {
    try {
      return Promise.resolve(this.writeSync(batch));
    } catch (err) {
      return Promise.reject(storeUnavailable('sqlite', err));
    }
  }

  private writeSync(batch: OnlineWriteBatch): OnlineWriteResult {
    const result = { written: 0, skipped: 0 };
    if (batch.rows.length === 0) return result;
    const table = tableName(this.project, batch.view);
    this.ensureTable(table);
    const t = quoteIdent(table);
    const upsert = this.db.prepare(
      `INSERT INTO ${t} (entity_key, feature_name, value, event_ts, created_ts) VALUES (?, ?, ?, ?, ?) ` +
        `ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, event_ts = excluded.event_ts, ` +
        `created_ts = excluded.created_ts WHERE ${STORED_SECONDS(t)} IS NULL OR excluded.event_ts > ${STORED_SECONDS(t)}`,
    );
    this.db.transaction(() => {
      for (const row of batch.rows) {
        const eventSeconds = Math.floor(row.eventTimeMs / 1000);
        const createdSeconds = row.createdTimeMs === undefined ? null : Math.floor(row.createdTimeMs / 1000);
        const key = asBuffer(row.entityKey);
        let changed = 0;
        for (let f = 0; f < batch.features.length; f++) {
          const value = row.values[f];
          if (value === undefined) continue;
          changed += upsert.run(
            key,
            batch.features[f],
            asBuffer(value),
            eventSeconds,
            createdSeconds,
          ).changes;
        }
        if (changed > 0) result.written++;
        else result.skipped++;
      }
    })();
    return result;
  }

  health(): Promise<DependencyCheck> {
    try {
      this.db.prepare('SELECT 1').get();
      return Promise.resolve({ status: 'ok' });
    } catch (err) {
      return Promise.resolve({ status: 'down', detail: storeUnavailable('sqlite', err).message });
    }
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}
