import { RegattaError } from '@regatta/contracts';
import { createLogger, type Logger } from '@regatta/telemetry';
import pg from 'pg';
import type { DbHealth, QueryResult, SqlClient, SqlExecutor } from './client.js';
import { toDbError } from './errors.js';

/** Options of {@link createPostgresClient}. */
export interface PostgresClientOptions {
  /** `postgres://user[:password]@host[:port]/database` — a server or a PgBouncer in front of one. */
  url: string;
  /** Most connections the pool opens (default 10). */
  max?: number;
  /**
   * Longest wait for a connection, whether opening a new one or waiting for a busy pool to free
   * one (default 5000 ms); past it the call fails with UNAVAILABLE.
   */
  connectionTimeoutMs?: number;
  /**
   * Server-side limit for statements run in `transaction()` (via `SET LOCAL`, which PgBouncer in
   * transaction mode allows), and client-side limit (+1 s) on every query, after which the
   * connection is discarded (default 30000 ms; 0 disables both).
   */
  statementTimeoutMs?: number;
  /** Idle connections close after this long (default 10000 ms). */
  idleTimeoutMs?: number;
  /** Shown in `pg_stat_activity` (default `regatta`). */
  applicationName?: string;
  /** Logger for connection problems (default `createLogger('db')`). */
  logger?: Logger;
}

// A client-side limit slightly above the server-side one, so the server normally wins and the
// client limit only fires when the connection has gone silent (a partition, a hung proxy).
const CLIENT_TIMEOUT_GRACE_MS = 1000;
const HEALTH_TIMEOUT_MS = 2000;

function checkPositive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0 || (!allowZero && v === 0)) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${v}`,
    );
  }
  return v;
}

function checkUrl(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')) {
    // Never echo the URL: it may carry a password.
    throw new RegattaError(
      'INVALID_ARGUMENT',
      'database url must look like postgres://user@host:5432/database',
    );
  }
}

function resultOf<R>(result: pg.QueryResult | pg.QueryResult[] | undefined): QueryResult<R> {
  // Several statements in one simple-protocol call return one result each; the last one counts.
  const last = Array.isArray(result) ? result[result.length - 1] : result;
  const rows = (last?.rows ?? []) as R[];
  return { rows, rowCount: last?.rowCount ?? rows.length };
}

/**
 * A pooled Postgres client that is safe behind PgBouncer in transaction mode: statements are
 * unnamed (never server-side prepared by name), nothing is set at session level, and startup
 * sends only parameters PgBouncer accepts. Connection failures and an exhausted pool surface as
 * RegattaError('UNAVAILABLE') within `connectionTimeoutMs`; a broken idle connection is logged and
 * discarded, never thrown.
 */
export function createPostgresClient(options: PostgresClientOptions): SqlClient {
  checkUrl(options.url);
  const max = checkPositive('max', options.max, 10);
  const connectionTimeoutMs = checkPositive('connectionTimeoutMs', options.connectionTimeoutMs, 5000);
  const statementTimeoutMs = checkPositive('statementTimeoutMs', options.statementTimeoutMs, 30_000, true);
  const idleTimeoutMs = checkPositive('idleTimeoutMs', options.idleTimeoutMs, 10_000);
  const logger = options.logger ?? createLogger('db');
  const target = describeTarget(options.url);

  const pool = new pg.Pool({
    connectionString: options.url,
    max,
    connectionTimeoutMillis: connectionTimeoutMs,
    idleTimeoutMillis: idleTimeoutMs,
    application_name: options.applicationName ?? 'regatta',
    query_timeout: statementTimeoutMs > 0 ? statementTimeoutMs + CLIENT_TIMEOUT_GRACE_MS : undefined,
    keepAlive: true,
    // A pool with nothing checked out does not keep a finished script alive.
    allowExitOnIdle: true,
  });
  // An idle connection that breaks (server restart, proxy cut) is dropped by the pool; without a
  // listener the 'error' event would crash the process.
  pool.on('error', (err) => {
    logger.warn(
      { target, error: toDbError(err).message },
      'idle database connection failed and was discarded',
    );
  });

  let closed = false;

  function mapError(err: unknown): RegattaError {
    if (closed) return new RegattaError('UNAVAILABLE', 'database client is closed');
    const mapped = toDbError(err);
    if (mapped.message === 'database pool exhausted') {
      return new RegattaError(
        'UNAVAILABLE',
        `database pool exhausted: no connection free within ${connectionTimeoutMs} ms (max ${max}, ${pool.waitingCount} waiting)`,
        { max, connectionTimeoutMs },
      );
    }
    if (mapped.message === 'database connection timed out') {
      return new RegattaError(
        'UNAVAILABLE',
        `database unavailable: could not connect to ${target} within ${connectionTimeoutMs} ms`,
      );
    }
    return mapped;
  }

  async function run<R>(
    runner: pg.Pool | pg.PoolClient,
    sql: string,
    params: readonly unknown[] | undefined,
  ): Promise<QueryResult<R>> {
    if (closed) throw new RegattaError('UNAVAILABLE', 'database client is closed');
    try {
      // No `name`: pg then uses the unnamed statement (or the simple protocol without params).
      const result: pg.QueryResult | pg.QueryResult[] = await runner.query(
        sql,
        params ? [...params] : undefined,
      );
      return resultOf<R>(result);
    } catch (err) {
      throw mapError(err);
    }
  }

  function executor(runner: pg.Pool | pg.PoolClient): SqlExecutor {
    return {
      query: <R = Record<string, unknown>>(sql: string, params?: readonly unknown[]) =>
        run<R>(runner, sql, params),
      exec: async (sql: string) => {
        // Without parameters pg uses the simple protocol, which runs several statements at once.
        await run(runner, sql, undefined);
      },
    };
  }

  const poolExecutor = executor(pool);

  return {
    kind: 'postgres',
    ...poolExecutor,

    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      if (closed) throw new RegattaError('UNAVAILABLE', 'database client is closed');
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw mapError(err);
      }
      // While checked out the pool no longer listens for this connection's errors.
      let broken: Error | undefined;
      const onError = (err: Error) => {
        broken = err;
        logger.warn(
          { target, error: toDbError(err).message },
          'database connection failed inside a transaction',
        );
      };
      client.on('error', onError);
      try {
        // SET LOCAL lasts until COMMIT/ROLLBACK, so no session state leaks to the next PgBouncer client.
        await run(
          client,
          statementTimeoutMs > 0 ? `BEGIN; SET LOCAL statement_timeout = ${statementTimeoutMs}` : 'BEGIN',
          undefined,
        );
        const result = await fn(executor(client));
        await run(client, 'COMMIT', undefined);
        return result;
      } catch (err) {
        // A statement that got no reply at all leaves the connection in an unknown state: drop it.
        if (
          err instanceof RegattaError &&
          err.code === 'DEADLINE_EXCEEDED' &&
          err.details?.sqlstate === undefined
        ) {
          broken ??= err;
          throw err;
        }
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken ??= rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
        throw err;
      } finally {
        client.off('error', onError);
        // Passing an error destroys the connection instead of returning it to the pool.
        client.release(broken);
      }
    },

    async health(): Promise<DbHealth> {
      if (closed) return { status: 'down', detail: 'client closed' };
      const started = Date.now();
      try {
        const probe: pg.QueryConfig & { query_timeout: number } = {
          text: 'SELECT 1',
          query_timeout: HEALTH_TIMEOUT_MS,
        };
        await pool.query(probe);
        return {
          status: 'ok',
          detail: `${target}: ${Date.now() - started} ms, ${pool.totalCount - pool.idleCount}/${max} connections busy`,
        };
      } catch (err) {
        return { status: 'down', detail: `${target}: ${mapError(err).message}` };
      }
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/** `host:port/database` of a URL, for logs and health details; never the credentials. */
function describeTarget(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}
