import { RegattaError, type StoredDecision } from '@regatta/contracts';
import { type Migration, type SqlClient, WriteBehindWriter, runMigrations } from '@regatta/db';

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

/**
 * The decision log: every decision is accepted into a bounded write-behind buffer and written
 * in batches (idempotent on decision_id), so a Postgres outage delays rows while the gateway runs.
 * Rows still unwritten when close() gives up (the writer's close timeout, 10 s) are logged and
 * counted (`db_writer_rows_total{outcome="unwritten"}`); unlike the LLM usage ledger they are not
 * spooled to disk. The most recent decisions are also kept in memory, so one can be read back from
 * this replica before its batch is written.
 */
export class DecisionLog {
  private readonly recent = new Map<string, DecisionRow>();
  private readonly recentMax = 10_000;
  private readonly writer: WriteBehindWriter<DecisionRow>;

  private constructor(
    private readonly sql: SqlClient,
    options: { maxBuffer?: number; flushIntervalMs?: number } = {},
  ) {
    this.writer = new WriteBehindWriter<DecisionRow>({
      client: sql,
      table: 'decisions',
      columns: COLUMNS,
      conflictKey: ['decision_id'],
      maxBuffer: options.maxBuffer ?? 50_000,
      flushIntervalMs: options.flushIntervalMs ?? 100,
    });
  }

  /** Applies the log's migrations and starts its writer. */
  static async open(
    sql: SqlClient,
    options?: { maxBuffer?: number; flushIntervalMs?: number },
  ): Promise<DecisionLog> {
    await runMigrations(sql, MIGRATIONS, { table: 'decisions_migrations' });
    return new DecisionLog(sql, options);
  }

  /** Accepts a decision; OVERLOADED when the buffer is full (the caller then gets 503, not a lost row). */
  record(row: DecisionRow): void {
    this.writer.add(row);
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
    const { rows } = await this.sql.query<DecisionRow>(
      `SELECT ${COLUMNS.join(', ')} FROM decisions WHERE decision_id = $1 AND tenant = $2`,
      [decisionId, tenant],
    );
    if (!rows[0]) throw notFound;
    return toStored(rows[0]);
  }

  health() {
    return this.writer.health();
  }

  /** Writes everything accepted, retrying while the database is away (up to the writer's close timeout). */
  async close(): Promise<void> {
    await this.writer.close();
  }
}
