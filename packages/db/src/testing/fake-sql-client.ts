import type { QueryResult, SqlExecutor } from '../client.js';

/** An error shaped like the ones pg raises, with a SQLSTATE or a Node socket code. */
export function pgError(message: string, code?: string): Error {
  return Object.assign(new Error(message), code ? { code } : {});
}

interface Statement {
  sql: string;
  params: unknown[];
}

const INSERT = /^INSERT INTO (\S+) \(([^)]*)\) VALUES .* ON CONFLICT \(([^)]*)\) DO NOTHING$/s;

/**
 * An in-memory stand-in for a SqlClient that understands the writer's multi-row
 * INSERT ... ON CONFLICT DO NOTHING, keeps rows in commit order, and can be told to fail.
 */
export class FakeSqlClient implements Pick<SqlExecutor, 'query'> {
  /** Rows committed, in commit order. */
  readonly rows: Record<string, unknown>[] = [];
  /** Every statement received, including failed ones. */
  readonly statements: Statement[] = [];
  /** While set, every statement fails with this error before touching any row. */
  down: Error | undefined;
  /** The next N statements commit and then fail, as if the reply was lost on the way back. */
  commitThenFail = 0;
  /** While set, statements never answer. */
  hang = false;
  /** A statement containing a row for which this returns true fails whole, with a NOT NULL violation. */
  invalid: (row: Record<string, unknown>) => boolean = () => false;
  private readonly keys = new Set<string>();

  query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    this.statements.push({ sql, params: [...params] });
    if (this.hang) return new Promise(() => undefined);
    if (this.down) return Promise.reject(this.down);
    const match = INSERT.exec(sql);
    if (!match) return Promise.reject(pgError(`fake cannot run: ${sql}`, '42601'));
    const columns = match[2]!.split(', ').map((c) => c.replaceAll('"', ''));
    const key = match[3]!.split(', ').map((c) => c.replaceAll('"', ''));
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < params.length; i += columns.length) {
      rows.push(Object.fromEntries(columns.map((c, j) => [c, params[i + j]])));
    }
    if (rows.some((row) => this.invalid(row))) {
      return Promise.reject(pgError('null value in column violates not-null constraint', '23502'));
    }
    let inserted = 0;
    for (const row of rows) {
      const id = JSON.stringify(key.map((k) => row[k]));
      if (this.keys.has(id)) continue;
      this.keys.add(id);
      this.rows.push(row);
      inserted += 1;
    }
    if (this.commitThenFail > 0) {
      this.commitThenFail -= 1;
      return Promise.reject(pgError('Connection terminated unexpectedly'));
    }
    return Promise.resolve({ rows: [], rowCount: inserted });
  }

  /** Number of rows per INSERT received so far. */
  batchSizes(columns: number): number[] {
    return this.statements.map((s) => s.params.length / columns);
  }
}
