import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { RegattaError, type WireError } from '@regatta/contracts';
import { type DbHealth, type QueryResult, type SqlClient, type SqlExecutor } from '@regatta/db';

/** A request to the database thread (pglite-worker.mjs); `tx` addresses an open transaction. */
type WorkerRequest =
  | { op: 'query'; sql: string; params: unknown[] | undefined; tx?: number }
  | { op: 'exec'; sql: string; tx?: number }
  | { op: 'begin' }
  | { op: 'commit' | 'rollback'; tx: number }
  | { op: 'health' }
  | { op: 'close' };

/** Its answer, matched by id (0 is the answer to opening the database). */
type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: WireError };

const SCRIPT = new URL('./pglite-worker.mjs', import.meta.url);

/**
 * The embedded database (PGlite) on a worker thread, behind the same `SqlClient` interface as
 * `openPglite`: statements run one at a time as before, but PGlite's synchronous WASM work no longer
 * holds the event loop that answers requests. Errors arrive as the same RegattaErrors.
 */
export async function openPgliteWorker(options: { dataDir: string }): Promise<SqlClient> {
  await mkdir(path.dirname(path.resolve(options.dataDir)), { recursive: true });
  const worker = new Worker(SCRIPT, { workerData: { dataDir: options.dataDir } });
  const pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (err: RegattaError) => void }
  >();
  let nextId = 1;
  let stopped: RegattaError | undefined;

  const stop = (reason: RegattaError) => {
    stopped ??= reason;
    for (const waiter of pending.values()) waiter.reject(reason);
    pending.clear();
  };
  worker.on('message', (reply: WorkerReply) => {
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    // Idle, the thread must not keep the process alive; busy, it must (a write is on its way).
    if (pending.size === 0) worker.unref();
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(RegattaError.fromWire(reply.error));
  });
  worker.on('error', (err) =>
    stop(new RegattaError('UNAVAILABLE', `embedded database thread failed: ${err.message}`)),
  );
  worker.on('exit', () => stop(new RegattaError('UNAVAILABLE', 'database client is closed')));

  const call = <T>(request: WorkerRequest, id = nextId++): Promise<T> => {
    if (stopped) return Promise.reject(stopped);
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.ref();
      if (id !== 0) worker.postMessage({ ...request, id });
    });
  };

  try {
    // The thread opens the database by itself and answers id 0.
    await call({ op: 'health' }, 0);
  } catch (err) {
    await worker.terminate();
    throw err;
  }

  const executor = (tx?: number): SqlExecutor => ({
    query: <R>(sql: string, params?: readonly unknown[]) =>
      call<QueryResult<R>>({ op: 'query', sql, params: params ? [...params] : undefined, tx }),
    exec: (sql: string) => call<void>({ op: 'exec', sql, tx }),
  });
  let closing: Promise<void> | undefined;

  return {
    kind: 'pglite',
    ...executor(),
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const tx = await call<number>({ op: 'begin' });
      let result: T;
      try {
        result = await fn(executor(tx));
      } catch (err) {
        await call({ op: 'rollback', tx }).catch(() => undefined);
        throw err;
      }
      await call({ op: 'commit', tx });
      return result;
    },
    async health(): Promise<DbHealth> {
      if (stopped) return { status: 'down', detail: stopped.message };
      return call<DbHealth>({ op: 'health' }).catch((err: RegattaError) => ({
        status: 'down' as const,
        detail: err.message,
      }));
    },
    close(): Promise<void> {
      closing ??= (async () => {
        if (!stopped) await call({ op: 'close' }).catch(() => undefined);
        stop(new RegattaError('UNAVAILABLE', 'database client is closed'));
        await worker.terminate();
      })();
      return closing;
    },
  };
}
