import {
  BackgroundSchema,
  type Migration,
  SpooledWriter,
  type SqlClient,
  WriteBehindWriter,
  type WriterHealth,
  quoteIdent,
} from '@regatta/db';
import { createLogger, type Logger } from '@regatta/telemetry';

/** One ledger row: one per request id, whatever happened to the request. */
export interface UsageRow {
  request_id: string;
  tenant: string;
  user_id: string | null;
  /** The routed model (after aliases). */
  model: string;
  /** Provider that answered; null for cache hits and refused requests. */
  provider: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cost_usd: number;
  /** HIT, MISS, COALESCED or BYPASS. */
  cache_status: string;
  /** What a provider would have charged for an answer served from the cache or a coalesced call. */
  cost_avoided_usd: number;
  latency_ms: number;
  usage_estimated: boolean;
  stream: boolean;
  /** `ok`, `cancelled`, or the error code. */
  outcome: string;
  price_version: string;
  created_at: string;
}

const COLUMNS = [
  'request_id',
  'tenant',
  'user_id',
  'model',
  'provider',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'cost_usd',
  'cache_status',
  'cost_avoided_usd',
  'latency_ms',
  'usage_estimated',
  'stream',
  'outcome',
  'price_version',
  'created_at',
] as const satisfies readonly (keyof UsageRow)[];

/** The ledger schema, as versioned migrations applied at boot (tracked in `<table>_migrations`). */
export function ledgerMigrations(table: string): Migration[] {
  const t = quoteIdent(table, 'table');
  return [
    {
      id: '001_create_usage',
      sql: `CREATE TABLE IF NOT EXISTS ${t} (
  request_id text PRIMARY KEY,
  tenant text NOT NULL,
  user_id text,
  model text NOT NULL,
  provider text,
  prompt_tokens integer NOT NULL,
  completion_tokens integer NOT NULL,
  cached_tokens integer NOT NULL,
  cost_usd numeric(20, 10) NOT NULL,
  cache_status text NOT NULL,
  cost_avoided_usd numeric(20, 10) NOT NULL,
  latency_ms double precision NOT NULL,
  usage_estimated boolean NOT NULL,
  stream boolean NOT NULL,
  outcome text NOT NULL,
  price_version text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ${quoteIdent(`${table}_tenant_time`, 'index')} ON ${t} (tenant, created_at);`,
    },
  ];
}

/** Options of {@link UsageLedger.open}. */
export interface LedgerOptions {
  client: SqlClient;
  table: string;
  /**
   * Rows not written at shutdown, or refused by a full buffer, wait here as JSON lines until Postgres takes
   * writes again (checked every `spoolRecoverEveryMs`) or the next start.
   */
  spoolDir: string;
  /** How often spooled rows are offered back to a healthy writer while running (default 5000 ms). */
  spoolRecoverEveryMs?: number;
  /** How long close() keeps writing before it spools the rest (default 5000 ms). */
  closeTimeoutMs?: number;
  /** Rows held in memory while Postgres is slow or away; beyond it rows go to the spool (default 50000). */
  maxBuffer?: number;
  flushIntervalMs?: number;
  logger?: Logger;
}

/**
 * The usage ledger: rows go to Postgres through the write-behind writer (batched, idempotent on the
 * request id, held and retried while Postgres is down), so recording never slows a request. Rows the
 * writer could not confirm by shutdown, or could not accept because its buffer was full, are appended
 * to a spool file and written once Postgres takes writes again, or on the next start ({@link SpooledWriter});
 * rows are keyed by request id, so a row written twice is stored once.
 */
export class UsageLedger {
  private readonly rows: SpooledWriter<UsageRow>;
  private readonly log: Logger;
  private replaying: Promise<void> = Promise.resolve();
  private schema: BackgroundSchema | undefined;
  private closed = false;

  private constructor(private readonly options: LedgerOptions) {
    this.log = options.logger ?? createLogger('llm-proxy');
    const writer = new WriteBehindWriter<UsageRow>({
      client: options.client,
      table: options.table,
      columns: COLUMNS,
      conflictKey: ['request_id'],
      maxBuffer: options.maxBuffer ?? 50_000,
      flushIntervalMs: options.flushIntervalMs ?? 200,
      closeTimeoutMs: options.closeTimeoutMs ?? 5_000,
      logger: this.log,
    });
    this.rows = new SpooledWriter({
      writer,
      spoolDir: options.spoolDir,
      prefix: 'ledger',
      keyOf: (row) => row.request_id,
      whenFull: 'spool',
      ...(options.spoolRecoverEveryMs !== undefined && { recoverEveryMs: options.spoolRecoverEveryMs }),
      logger: this.log,
    });
  }

  /**
   * Starts the writer at once and applies the schema in the background, retrying while the database is
   * unreachable (rows wait in the writer meanwhile); spooled rows are replayed once the schema is there.
   */
  static start(options: LedgerOptions): UsageLedger {
    const ledger = new UsageLedger(options);
    ledger.replaying = ledger.prepare();
    return ledger;
  }

  /** Resolves once the schema is applied and spooled rows are handed to the writer. */
  get ready(): Promise<void> {
    return this.replaying;
  }

  private async prepare(): Promise<void> {
    this.schema = new BackgroundSchema(this.options.client, ledgerMigrations(this.options.table), {
      what: 'the usage ledger',
      table: `${this.options.table}_migrations`,
      logger: this.log,
    });
    if ((await this.schema.ready) && !this.closed) await this.rows.replay();
  }

  /** Accepts a row; never throws (a full buffer sends the row to the spool file instead). */
  record(row: UsageRow): void {
    this.rows.record(row);
  }

  /** Waits until every accepted row is written (tests, and the replay of spooled rows). */
  async flush(timeoutMs?: number): Promise<void> {
    await this.replaying;
    await this.rows.flush(timeoutMs);
  }

  health(): WriterHealth {
    return this.rows.health();
  }

  /** Rows accepted and not yet confirmed written. */
  get unconfirmed(): number {
    return this.rows.unconfirmed;
  }

  /** Writes what it can within the close timeout, spools the rest, and stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.schema?.close();
    await this.rows.close();
  }
}
