import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { RegattaError } from '@regatta/contracts';
import type { PGlite, Results, Transaction } from '@electric-sql/pglite';
import type { DbHealth, QueryResult, SqlClient, SqlExecutor } from './client.js';
import { toDbError } from './errors.js';

/** Options of {@link openPglite}. */
export interface PgliteOptions {
  /** Directory holding the database files (created if missing), or `memory://` for a throwaway database. */
  dataDir: string;
}

// pg returns int8 (bigint, count(*)) as a string to keep precision; PGlite would return a number.
// Parsing it the same way keeps results identical whichever client an app runs on.
const INT8_OID = 20;

function resultOf<R>(result: Results<R>): QueryResult<R> {
  return { rows: result.rows, rowCount: result.rowCount ?? result.affectedRows ?? result.rows.length };
}

function executor(target: PGlite | Transaction, isClosed: () => boolean): SqlExecutor {
  return {
    async query<R = Record<string, unknown>>(
      sql: string,
      params?: readonly unknown[],
    ): Promise<QueryResult<R>> {
      if (isClosed()) throw new RegattaError('UNAVAILABLE', 'database client is closed');
      try {
        return resultOf(await target.query<R>(sql, params ? [...params] : undefined));
      } catch (err) {
        throw toDbError(err);
      }
    },
    async exec(sql: string): Promise<void> {
      if (isClosed()) throw new RegattaError('UNAVAILABLE', 'database client is closed');
      try {
        await target.exec(sql);
      } catch (err) {
        throw toDbError(err);
      }
    },
  };
}

/**
 * Embedded Postgres (PGlite, WASM) behind the same `SqlClient` interface, for running an app
 * without a database server. One connection: statements and transactions run one at a time.
 * The first open of a new data directory takes seconds (initdb); later opens are faster.
 */
export async function openPglite(options: PgliteOptions): Promise<SqlClient> {
  if (!options.dataDir)
    throw new RegattaError('INVALID_ARGUMENT', 'dataDir is required (a directory or memory://)');
  // Loaded on demand so processes that talk to a Postgres server never load the WASM build.
  const { PGlite } = await import('@electric-sql/pglite');
  let db: PGlite;
  try {
    // PGlite creates its own directory but not the ones above it (e.g. a fresh .regatta/data).
    if (!options.dataDir.includes('://'))
      await mkdir(path.dirname(path.resolve(options.dataDir)), { recursive: true });
    db = await PGlite.create(options.dataDir, { parsers: { [INT8_OID]: (value: string) => value } });
  } catch (err) {
    throw new RegattaError(
      'UNAVAILABLE',
      `cannot open embedded database at ${options.dataDir}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  let closed = false;
  const isClosed = () => closed;
  const main = executor(db, isClosed);

  return {
    kind: 'pglite',
    ...main,

    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      if (closed) throw new RegattaError('UNAVAILABLE', 'database client is closed');
      // PGlite's own transaction issues BEGIN/COMMIT and rolls back when fn throws; errors of fn
      // pass through unchanged, failures of BEGIN/COMMIT themselves become RegattaErrors.
      let fnFailed = false;
      try {
        return await db.transaction(async (tx) => {
          try {
            return await fn(executor(tx, isClosed));
          } catch (err) {
            fnFailed = true;
            throw err;
          }
        });
      } catch (err) {
        throw fnFailed ? err : toDbError(err);
      }
    },

    async health(): Promise<DbHealth> {
      if (closed) return { status: 'down', detail: 'client closed' };
      try {
        await db.query('SELECT 1');
        return { status: 'ok', detail: `embedded (${options.dataDir})` };
      } catch (err) {
        return { status: 'down', detail: toDbError(err).message };
      }
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await db.close();
    },
  };
}
