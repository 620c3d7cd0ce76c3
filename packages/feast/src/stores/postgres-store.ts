import { RegattaError, type DependencyCheck } from '@regatta/contracts';
import pg from 'pg';
import type { PostgresOnlineStoreConfig } from '../config.js';
import { decodeValueJson, type JsonFeatureValue } from '../value.js';
import {
  notFound,
  quoteIdent,
  storeUnavailable,
  tableName,
  type OnlineReadRequest,
  type OnlineReadResult,
  type OnlineStore,
  type OnlineWriteBatch,
  type OnlineWriteResult,
} from './online-store.js';

/** Options of a PostgresOnlineStore. */
export interface PostgresOnlineStoreOptions {
  project: string;
  /** A pool to use (and not end); otherwise one is created from `connection`. */
  pool?: pg.Pool;
  connection?: Omit<PostgresOnlineStoreConfig, 'type'>;
  /** Schema of the tables when a pool is given; default `public`. */
  schema?: string;
  /** Pool size when the store creates its pool; default 10. */
  maxConnections?: number;
  /**
   * How long a read (or the health check) may wait for its answer; default 2000. The client gives up then,
   * also on a connection that has stopped answering (a partition), which would otherwise hold its pooled
   * connection for as long as TCP keeps retrying; the connection is dropped from the pool.
   */
  queryTimeoutMs?: number;
  /** The same for a write or a table creation, which may carry up to 20,000 values; default 30000. */
  writeTimeoutMs?: number;
}

type ReadRow = {
  v: number;
  entity_key: Buffer;
  feature_name: string;
  value: Buffer | null;
  event_ts: Date | null;
};

// A write sends whole columns as arrays; this bounds one statement's (row x feature) cells.
const MAX_CELLS_PER_STATEMENT = 20_000;

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);

// Connection failures and server shutdowns are outages (UNAVAILABLE); anything else Postgres rejected is a
// bug or a schema mismatch (INTERNAL).
function pgError(err: unknown): RegattaError {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (
    (typeof code === 'string' &&
      (CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('57P'))) ||
    /timeout|terminated|Connection/i.test(message)
  ) {
    return storeUnavailable('postgres', err);
  }
  return new RegattaError('INTERNAL', `postgres online store: ${message}`, { store: 'postgres' });
}

const keyId = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
const asBuffer = (b: Uint8Array): Buffer =>
  Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/**
 * Feast's Postgres layout: `<schema>.<project>_<view>` tables keyed by (entity_key, feature_name). A read of any
 * number of views is one statement (one round trip); statements are unnamed, so PgBouncer in transaction mode
 * works.
 */
export class PostgresOnlineStore implements OnlineStore {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly project: string;
  private readonly schema: string;
  private readonly existing = new Set<string>();
  private readonly readTimeoutMs: number;
  private readonly writeTimeoutMs: number;

  constructor(options: PostgresOnlineStoreOptions) {
    this.project = options.project;
    this.readTimeoutMs = options.queryTimeoutMs ?? 2000;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 30_000;
    this.schema = options.schema ?? options.connection?.schema ?? 'public';
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else {
      const c = options.connection;
      this.pool = new pg.Pool({
        ...(c && { host: c.host, port: c.port, database: c.database, user: c.user }),
        ...(c?.password !== undefined && { password: c.password }),
        ...(c?.sslmode &&
          c.sslmode !== 'disable' && { ssl: { rejectUnauthorized: c.sslmode === 'verify-full' } }),
        max: options.maxConnections ?? 10,
        connectionTimeoutMillis: 2000,
        idleTimeoutMillis: 30_000,
      });
      this.ownsPool = true;
    }
    // An idle client losing its connection is reported here; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  private qualified(view: string): string {
    return `${quoteIdent(this.schema)}.${quoteIdent(tableName(this.project, view))}`;
  }

  private async query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[],
    timeoutMs = this.readTimeoutMs,
  ): Promise<pg.QueryResult<R>> {
    try {
      // node-postgres takes a per-query `query_timeout`; its type definitions leave it out.
      return await this.pool.query<R>({ text, values, query_timeout: timeoutMs } as pg.QueryConfig);
    } catch (err) {
      throw pgError(err);
    }
  }

  /** Which of the views' tables exist; positive answers are remembered, missing tables are asked again. */
  private async existingViews(views: readonly string[]): Promise<Set<string>> {
    const unknown = views.filter((v) => !this.existing.has(v));
    if (unknown.length > 0) {
      const { rows } = await this.query<{ relname: string }>(
        `SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
        [this.schema, unknown.map((v) => tableName(this.project, v))],
      );
      const found = new Set(rows.map((r) => r.relname));
      for (const v of unknown) if (found.has(tableName(this.project, v))) this.existing.add(v);
    }
    return new Set(views.filter((v) => this.existing.has(v)));
  }

  async read(requests: readonly OnlineReadRequest[]): Promise<OnlineReadResult[]> {
    const results = new Array<OnlineReadResult>(requests.length);
    if (requests.length === 0) return results;
    const byView = new Map<string, { keys: Map<string, Buffer>; features: Set<string>; indexes: number[] }>();
    requests.forEach((r, i) => {
      let group = byView.get(r.view);
      if (!group) byView.set(r.view, (group = { keys: new Map(), features: new Set(), indexes: [] }));
      group.keys.set(keyId(r.entityKey), asBuffer(r.entityKey));
      for (const f of r.features) group.features.add(f);
      group.indexes.push(i);
    });
    const present = await this.existingViews([...byView.keys()]);
    const views = [...byView.keys()].filter((v) => present.has(v));

    // One statement for every view: UNION ALL of per-table selects, tagged with the view's position.
    const stored = views.map(() => new Map<string, Map<string, ReadRow>>());
    if (views.length > 0) {
      const params: unknown[] = [];
      const selects = views.map((view, v) => {
        const group = byView.get(view)!;
        params.push([...group.keys.values()], [...group.features]);
        return (
          `SELECT ${v}::int AS v, entity_key, feature_name, value, event_ts FROM ${this.qualified(view)} ` +
          `WHERE entity_key = ANY($${params.length - 1}::bytea[]) AND feature_name = ANY($${params.length}::text[])`
        );
      });
      let rows: ReadRow[];
      try {
        rows = (await this.query<ReadRow>(selects.join(' UNION ALL '), params)).rows;
      } catch (err) {
        // A table dropped since it was seen: forget what is known and let the next read look again.
        if (err instanceof RegattaError && err.code === 'INTERNAL') this.existing.clear();
        throw err;
      }
      for (const row of rows) {
        const byKey = stored[row.v]!;
        const id = row.entity_key.toString('latin1');
        let features = byKey.get(id);
        if (!features) byKey.set(id, (features = new Map<string, ReadRow>()));
        features.set(row.feature_name, row);
      }
    }

    for (const [view, group] of byView) {
      const v = views.indexOf(view);
      for (const i of group.indexes) {
        const request = requests[i]!;
        const features = v >= 0 ? stored[v]!.get(keyId(request.entityKey)) : undefined;
        if (!features) {
          results[i] = notFound(request.features);
          continue;
        }
        const n = request.features.length;
        const result: OnlineReadResult = {
          values: new Array<JsonFeatureValue | undefined>(n),
          eventTimesMs: new Array<number | undefined>(n),
        };
        for (let f = 0; f < n; f++) {
          const row = features.get(request.features[f]!);
          result.values[f] = row ? (row.value ? decodeValueJson(row.value) : null) : undefined;
          result.eventTimesMs[f] = row?.event_ts ? row.event_ts.getTime() : undefined;
        }
        results[i] = result;
      }
    }
    return results;
  }

  private async ensureTable(view: string): Promise<void> {
    if (this.existing.has(view)) return;
    const table = this.qualified(view);
    if (this.schema !== 'public')
      await this.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.schema)}`, [], this.writeTimeoutMs);
    await this.query(
      `CREATE TABLE IF NOT EXISTS ${table} (entity_key BYTEA, feature_name TEXT, value BYTEA, event_ts TIMESTAMPTZ, ` +
        `created_ts TIMESTAMPTZ, PRIMARY KEY(entity_key, feature_name))`,
      [],
      this.writeTimeoutMs,
    );
    await this.query(
      `CREATE INDEX IF NOT EXISTS ${quoteIdent(`${tableName(this.project, view)}_ek`)} ON ${table} (entity_key)`,
      [],
      this.writeTimeoutMs,
    );
    this.existing.add(view);
  }

  async write(batch: OnlineWriteBatch): Promise<OnlineWriteResult> {
    // One statement cannot update the same row twice: keep each entity's latest row.
    const latest = new Map<string, (typeof batch.rows)[number]>();
    for (const row of batch.rows) {
      const id = keyId(row.entityKey);
      const prev = latest.get(id);
      if (!prev || row.eventTimeMs >= prev.eventTimeMs) latest.set(id, row);
    }
    const rows = [...latest.values()];
    const result = { written: 0, skipped: batch.rows.length - rows.length };
    if (rows.length === 0) return result;
    await this.ensureTable(batch.view);
    const table = this.qualified(batch.view);
    const rowsPerStatement = Math.max(
      1,
      Math.floor(MAX_CELLS_PER_STATEMENT / Math.max(1, batch.features.length)),
    );
    for (let start = 0; start < rows.length; start += rowsPerStatement) {
      const chunk = rows.slice(start, start + rowsPerStatement);
      const keys: Buffer[] = [];
      const names: string[] = [];
      const values: Buffer[] = [];
      const events: string[] = [];
      const created: (string | null)[] = [];
      for (const row of chunk) {
        const event = new Date(row.eventTimeMs).toISOString();
        const createdAt = row.createdTimeMs === undefined ? null : new Date(row.createdTimeMs).toISOString();
        batch.features.forEach((feature, f) => {
          const value = row.values[f];
          if (value === undefined) return;
          keys.push(asBuffer(row.entityKey));
          names.push(feature);
          values.push(asBuffer(value));
          events.push(event);
          created.push(createdAt);
        });
      }
      const { rows: returned } = await this.query<{ entity_key: Buffer }>(
        `INSERT INTO ${table} AS cur (entity_key, feature_name, value, event_ts, created_ts) ` +
          `SELECT * FROM unnest($1::bytea[], $2::text[], $3::bytea[], $4::timestamptz[], $5::timestamptz[]) ` +
          `ON CONFLICT (entity_key, feature_name) DO UPDATE SET value = EXCLUDED.value, event_ts = EXCLUDED.event_ts, ` +
          `created_ts = EXCLUDED.created_ts WHERE cur.event_ts IS NULL OR EXCLUDED.event_ts > cur.event_ts ` +
          `RETURNING entity_key`,
        [keys, names, values, events, created],
        this.writeTimeoutMs,
      );
      const writtenKeys = new Set(returned.map((r) => r.entity_key.toString('latin1')));
      result.written += writtenKeys.size;
      result.skipped += chunk.length - writtenKeys.size;
    }
    return result;
  }

  async health(): Promise<DependencyCheck> {
    try {
      await this.query('SELECT 1', []);
      return { status: 'ok' };
    } catch (err) {
      return { status: 'down', detail: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}
