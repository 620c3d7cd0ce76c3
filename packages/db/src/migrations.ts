import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { RegattaError } from '@regatta/contracts';
import { createLogger, type Logger } from '@regatta/telemetry';
import type { SqlClient } from './client.js';
import { quoteTable } from './sql.js';

/** One versioned schema change; `id` is recorded once applied, so it must never change meaning. */
export interface Migration {
  id: string;
  sql: string;
}

/** Options of {@link runMigrations}. */
export interface RunMigrationsOptions {
  /**
   * Key of the transaction-scoped advisory lock that serialises concurrent starters (default:
   * derived from the table name). Transaction-scoped locks work through PgBouncer in transaction mode.
   */
  lockKey?: bigint | number;
  /** Table recording applied migrations (default `schema_migrations`); apps sharing a database use one each. */
  table?: string;
  logger?: Logger;
}

/** What {@link runMigrations} did. */
export interface MigrationReport {
  /** Ids applied by this call, in order. */
  applied: string[];
  /** Ids that were already applied before. */
  skipped: string[];
}

const FILE = /^(\d+)_([A-Za-z0-9_-]+)\.sql$/;

function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/** A stable signed 64-bit advisory lock key for a name. */
function lockKeyFor(name: string): bigint {
  return createHash('sha256').update(`regatta:migrations:${name}`).digest().readBigInt64BE(0);
}

function validate(migrations: readonly Migration[]): void {
  const seen = new Set<string>();
  for (const migration of migrations) {
    if (!migration.id || typeof migration.sql !== 'string' || migration.sql.trim() === '') {
      throw new RegattaError('INVALID_ARGUMENT', `migration "${migration.id}" needs a non-empty id and sql`);
    }
    if (seen.has(migration.id))
      throw new RegattaError('INVALID_ARGUMENT', `migration id "${migration.id}" appears twice`);
    seen.add(migration.id);
  }
}

/**
 * Applies, in array order, every migration not yet recorded in the migrations table, each in its
 * own transaction together with its record, so a failed migration leaves no trace and the next
 * start retries it. Concurrent starters queue on `pg_advisory_xact_lock`, and each re-checks the
 * table once it holds the lock, so every migration runs exactly once. A recorded migration whose
 * SQL has since changed fails with CONFLICT rather than leaving the schema silently different.
 */
export async function runMigrations(
  client: SqlClient,
  migrations: readonly Migration[],
  options: RunMigrationsOptions = {},
): Promise<MigrationReport> {
  validate(migrations);
  const tableName = options.table ?? 'schema_migrations';
  const table = quoteTable(tableName);
  const lockKey = String(options.lockKey ?? lockKeyFor(tableName));
  const logger = options.logger ?? createLogger('db');
  const report: MigrationReport = { applied: [], skipped: [] };

  for (const migration of migrations) {
    const sum = checksum(migration.sql);
    const applied = await client.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey]);
      // Created under the lock: concurrent CREATE TABLE IF NOT EXISTS can otherwise collide.
      await tx.exec(
        `CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const existing = await tx.query<{ checksum: string }>(`SELECT checksum FROM ${table} WHERE id = $1`, [
        migration.id,
      ]);
      const recorded = existing.rows[0];
      if (recorded) {
        if (recorded.checksum !== sum) {
          throw new RegattaError(
            'CONFLICT',
            `migration ${migration.id} was changed after it was applied; add a new migration instead of editing it`,
            { migration: migration.id },
          );
        }
        return false;
      }
      await tx.exec(migration.sql);
      await tx.query(`INSERT INTO ${table} (id, checksum) VALUES ($1, $2)`, [migration.id, sum]);
      return true;
    });
    (applied ? report.applied : report.skipped).push(migration.id);
    if (applied) logger.info({ migration: migration.id, table: tableName }, 'applied database migration');
  }
  return report;
}

/**
 * Reads `NNN_name.sql` files of `dir` as migrations ordered by number; the id is the file name
 * without `.sql`. Other `.sql` names and two files with the same number are INVALID_ARGUMENT.
 */
export async function loadMigrationsFromDir(dir: string): Promise<Migration[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `cannot read migrations directory ${dir}: ${(err as Error).message}`,
    );
  }
  const files: { number: bigint; name: string }[] = [];
  for (const name of names) {
    if (!name.endsWith('.sql')) continue;
    const match = FILE.exec(name);
    if (!match) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `migration file ${name} in ${dir} is not named NNN_name.sql`,
      );
    }
    files.push({ number: BigInt(match[1]!), name });
  }
  files.sort((a, b) => (a.number < b.number ? -1 : a.number > b.number ? 1 : 0));
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.number === files[i - 1]!.number) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `migrations ${files[i - 1]!.name} and ${files[i]!.name} in ${dir} share a number; their order is ambiguous`,
      );
    }
  }
  return Promise.all(
    files.map(async ({ name }) => ({
      id: name.slice(0, -'.sql'.length),
      sql: await readFile(path.join(dir, name), 'utf8'),
    })),
  );
}
