import { RegattaError, type StoredDecision } from '@regatta/contracts';
import {
  BackgroundSchema,
  type Migration,
  SpooledWriter,
  type SqlClient,
  WriteBehindWriter,
  type WriterHealth,
} from '@regatta/db';
import { createLogger } from '@regatta/telemetry';

const MIGRATIONS: Migration[] = [
  {
    id: '001_decisions',
    sql: `
      CREATE TABLE IF NOT EXISTS decisions (
        decision_id uuid PRIMARY KEY,
        tenant text NOT NULL,
        flow text NOT NULL,
        outcome text NOT NULL,
        score double precision NOT NULL,
        model text NOT NULL,
        model_version text NOT NULL,
        reasons jsonb NOT NULL,
        explanation text,
        degraded jsonb NOT NULL,
        inputs_hash text NOT NULL,
        latency_ms double precision NOT NULL,
        created_at timestamptz NOT NULL
      );
      CREATE INDEX IF NOT EXISTS decisions_tenant_created ON decisions (tenant, created_at DESC);
    `,
  },
];

/** One row of the decision log (column names are the writer's row keys). */
export interface DecisionRow {
  decision_id: string;
  tenant: string;
  flow: string;
  outcome: string;
  score: number;
  model: string;
  model_version: string;
  reasons: string;
  explanation: string | null;
  degraded: string;
  inputs_hash: string;
  latency_ms: number;
  created_at: string;
}

const COLUMNS: (keyof DecisionRow)[] = [
  'decision_id',
  'tenant',
  'flow',
  'outcome',
  'score',
  'model',
  'model_version',
  'reasons',
  'explanation',
  'degraded',
  'inputs_hash',
  'latency_ms',
  'created_at',
];

function toStored(row: DecisionRow): StoredDecision {
  return {
    decision_id: row.decision_id,
    flow: row.flow,
    outcome: row.outcome as StoredDecision['outcome'],
    score: Number(row.score),
    model: row.model,
    model_version: row.model_version,
    reasons: (typeof row.reasons === 'string' ? JSON.parse(row.reasons) : row.reasons) as string[],
    explanation: row.explanation,
    degraded: (typeof row.degraded === 'string' ? JSON.parse(row.degraded) : row.degraded) as string[],
    inputs_hash: row.inputs_hash,
    latency_ms: Number(row.latency_ms),
    created_at: new Date(row.created_at).toISOString(),
  };
}

/** Options of {@link DecisionLog.open}. */
export interface DecisionLogOptions {
  /** Decisions not written at shutdown wait here as JSON lines and are written on the next start. */
  spoolDir: string;
  /** Rows held in memory while Postgres is slow or away; beyond it decisions are refused (503). */
  maxBuffer?: number;
  flushIntervalMs?: number;
  /** How long close() keeps writing before it spools the rest (default 10000 ms). */
  closeTimeoutMs?: number;
}

/**
 * The decision log: every decision is accepted into a bounded write-behind buffer and written
 * in batches (idempotent on decision_id), so a Postgres outage delays rows but loses none: rows still
 * unwritten when close() gives up go to a spool file and are written on the next start
 * ({@link SpooledWriter}). A full buffer refuses the decision (OVERLOADED), so the caller gets 503
 * rather than a decision that is never stored. The most recent decisions are also kept in memory, so
 * one can be read back from this replica before its batch is written.
 */
export class DecisionLog {
  private readonly recent = new Map<string, DecisionRow>();
  private readonly recentMax = 10_000;
  private readonly rows: SpooledWriter<DecisionRow>;
  private schema: BackgroundSchema | undefined;
  private closed = false;

  private constructor(
    private readonly sql: SqlClient,
    options: DecisionLogOptions,
  ) {
    const writer = new WriteBehindWriter<DecisionRow>({
      client: sql,
      table: 'decisions',
      columns: COLUMNS,
      conflictKey: ['decision_id'],
      maxBuffer: options.maxBuffer ?? 50_000,
      flushIntervalMs: options.flushIntervalMs ?? 100,
      ...(options.closeTimeoutMs !== undefined && { closeTimeoutMs: options.closeTimeoutMs }),
    });
    this.rows = new SpooledWriter({
      writer,
      spoolDir: options.spoolDir,
      prefix: 'decisions',
      keyOf: (row) => row.decision_id,
      whenFull: 'throw',
      logger: createLogger('gateway'),
    });
  }

  /**
   * Starts the log's writer, applies its migrations and hands the writer the decisions spooled at the last
   * stop. With the database up this is done when it resolves. With the database away it resolves after the
   * first attempt: decisions are accepted into the buffer meanwhile, the migrations are retried in the
   * background, and the spooled decisions are handed over once they are applied.
   */
  static async open(sql: SqlClient, options: DecisionLogOptions): Promise<DecisionLog> {
    const log = new DecisionLog(sql, options);
    const schema = new BackgroundSchema(sql, MIGRATIONS, {
      what: 'the decision log',
      table: 'decisions_migrations',
      logger: createLogger('gateway'),
    });
    log.schema = schema;
    const replaying = schema.ready.then((applied) =>
      applied && !log.closed ? log.rows.replay() : undefined,
    );
    if (await schema.firstAttempt) await replaying;
    return log;
  }

  /** Accepts a decision; OVERLOADED when the buffer is full (the caller then gets 503, not a lost row). */
  record(row: DecisionRow): void {
    this.rows.record(row);
    this.recent.set(row.decision_id, row);
    if (this.recent.size > this.recentMax) this.recent.delete(this.recent.keys().next().value!);
  }

  /** One decision of `tenant`; another tenant's decision is NOT_FOUND, as if it did not exist. */
  async get(tenant: string, decisionId: string): Promise<StoredDecision> {
    const notFound = new RegattaError('NOT_FOUND', `no decision ${decisionId}`);
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(decisionId)) throw notFound;
    const buffered = this.recent.get(decisionId);
    if (buffered) {
      if (buffered.tenant !== tenant) throw notFound;
      return toStored(buffered);
    }
    this.schema?.check();
    const { rows } = await this.sql.query<DecisionRow>(
      `SELECT ${COLUMNS.join(', ')} FROM decisions WHERE decision_id = $1 AND tenant = $2`,
      [decisionId, tenant],
    );
    if (!rows[0]) throw notFound;
    return toStored(rows[0]);
  }

  /** The writer's health; degraded, saying why, while the log's schema is not applied yet. */
  health(): WriterHealth {
    const schema = this.schema?.health();
    if (schema && schema.status !== 'ok')
      return { status: 'degraded', detail: `${schema.detail}; decisions are held in memory meanwhile` };
    return this.rows.health();
  }

  /** Waits until every accepted decision is written (tests). */
  flush(timeoutMs?: number): Promise<void> {
    return this.rows.flush(timeoutMs);
  }

  /** Writes everything accepted, retrying while the database is away; spools what is left at the timeout. */
  async close(): Promise<void> {
    this.closed = true;
    this.schema?.close();
    await this.rows.close();
  }
}
