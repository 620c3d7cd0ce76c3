/** What one statement returns: the rows and how many rows the command touched. */
export interface QueryResult<R> {
  rows: R[];
  /** Rows returned by a SELECT, or inserted/updated/deleted by a write. */
  rowCount: number;
}

/** A database health check result, shaped like a `DependencyCheck` of the health contract. */
export interface DbHealth {
  status: 'ok' | 'down';
  detail?: string;
}

/** Runs statements: a client, or the connection of an open transaction. */
export interface SqlExecutor {
  /**
   * One statement with `$1..$n` parameters. Never a named prepared statement, so it is safe
   * behind PgBouncer in transaction mode. Errors are RegattaErrors (see `toDbError`).
   */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** A script of one or more statements without parameters (migrations, DDL). */
  exec(sql: string): Promise<void>;
}

/** Postgres access shared by every Regatta app: a pooled server connection or embedded PGlite. */
export interface SqlClient extends SqlExecutor {
  readonly kind: 'postgres' | 'pglite';
  /**
   * Runs `fn` inside BEGIN/COMMIT on one connection; ROLLBACK and rethrow if it throws. Errors
   * thrown by `fn` reach the caller unchanged.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** `ok` when a trivial query succeeds within a short timeout, else `down` with the reason. */
  health(): Promise<DbHealth>;
  /** Closes every connection; later calls fail with UNAVAILABLE. Idempotent. */
  close(): Promise<void>;
}
