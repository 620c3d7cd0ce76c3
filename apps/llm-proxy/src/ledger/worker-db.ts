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

/** Options of {@link openPgliteWorker}. */
export interface PgliteWorkerOptions {
  dataDir: string;
  /** The database thread's entry (tests substitute a wrapper). */
  script?: URL;
  /** Least time between two attempts to restart a database thread that died (default 1 s). */
  restartDelayMs?: number;
}

/** One database thread and the calls waiting on it. */
interface Thread {
  worker: Worker;
  pending: Map<number, { resolve: (value: unknown) => void; reject: (err: RegattaError) => void }>;
  /** Set once the thread cannot answer any more: why. */
  dead: RegattaError | undefined;
}

/**
 * The embedded database (PGlite) on a worker thread, behind the same `SqlClient` interface as
 * `openPglite`: statements run one at a time as before, but PGlite's synchronous WASM work no longer
 * holds the event loop that answers requests. Errors arrive as the same RegattaErrors. A thread that dies
 * fails only the calls it held (and its open transactions); the next call starts a new thread on the same
 * data directory, at most once per `restartDelayMs`.
 */
export async function openPgliteWorker(options: PgliteWorkerOptions): Promise<SqlClient> {
  await mkdir(path.dirname(path.resolve(options.dataDir)), { recursive: true });
  const script = options.script ?? SCRIPT;
  const restartDelayMs = options.restartDelayMs ?? 1_000;
  let nextId = 1;
  let closed: RegattaError | undefined;

  /** Starts a thread; resolves once it has opened the database (it answers id 0 by itself). */
  const startThread = async (): Promise<Thread> => {
    const worker = new Worker(script, { workerData: { dataDir: options.dataDir } });
    const thread: Thread = { worker, pending: new Map(), dead: undefined };
    const die = (reason: RegattaError) => {
      thread.dead ??= reason;
      for (const waiter of thread.pending.values()) waiter.reject(thread.dead);
      thread.pending.clear();
    };
    worker.on('message', (reply: WorkerReply) => {
      const waiter = thread.pending.get(reply.id);
      if (!waiter) return;
      thread.pending.delete(reply.id);
      // Idle, the thread must not keep the process alive; busy, it must (a write is on its way).
      if (thread.pending.size === 0) worker.unref();
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(RegattaError.fromWire(reply.error));
    });
    worker.on('error', (err) =>
      die(new RegattaError('UNAVAILABLE', `embedded database thread failed: ${err.message}`)),
    );
    worker.on('exit', () =>
      die(closed ?? new RegattaError('UNAVAILABLE', 'embedded database thread exited')),
    );
    try {
      await send(thread, { op: 'health' }, 0);
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    return thread;
  };

  const send = <T>(thread: Thread, request: WorkerRequest, id = nextId++): Promise<T> => {
    if (thread.dead) return Promise.reject(thread.dead);
    return new Promise<T>((resolve, reject) => {
      thread.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      thread.worker.ref();
      if (id !== 0) thread.worker.postMessage({ ...request, id });
    });
  };

  let current = await startThread();
  let restarting: Promise<Thread> | undefined;
  let lastRestart = 0;

  /** The live thread, starting a new one when the last died (at most once per restartDelayMs). */
  const live = async (): Promise<Thread> => {
    if (closed) throw closed;
    if (!current.dead) return current;
    if (!restarting) {
      if (Date.now() - lastRestart < restartDelayMs) throw current.dead;
      lastRestart = Date.now();
      restarting = startThread().finally(() => (restarting = undefined));
    }
    current = await restarting;
    return current;
  };

  const call = async <T>(request: WorkerRequest): Promise<T> => send<T>(await live(), request);

  /** Statements on the database, or on a transaction of one thread (lost if that thread died). */
  const executor = (tx?: { id: number; thread: Thread }): SqlExecutor => {
    const run = <T>(request: WorkerRequest): Promise<T> =>
      tx ? send<T>(tx.thread, request) : call<T>(request);
    return {
      query: <R>(sql: string, params?: readonly unknown[]) =>
        run<QueryResult<R>>({ op: 'query', sql, params: params ? [...params] : undefined, tx: tx?.id }),
      exec: (sql: string) => run<void>({ op: 'exec', sql, tx: tx?.id }),
    };
  };
  let closing: Promise<void> | undefined;

  return {
    kind: 'pglite',
    ...executor(),
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const thread = await live();
      const id = await send<number>(thread, { op: 'begin' });
      let result: T;
      try {
        result = await fn(executor({ id, thread }));
      } catch (err) {
        await send(thread, { op: 'rollback', tx: id }).catch(() => undefined);
        throw err;
      }
      await send(thread, { op: 'commit', tx: id });
      return result;
    },
    async health(): Promise<DbHealth> {
      try {
        return await call<DbHealth>({ op: 'health' });
      } catch (err) {
        return { status: 'down', detail: (err as RegattaError).message };
      }
    },
    close(): Promise<void> {
      closing ??= (async () => {
        const thread = restarting ? await restarting.catch(() => current) : current;
        if (!thread.dead) await send(thread, { op: 'close' }).catch(() => undefined);
        closed = new RegattaError('UNAVAILABLE', 'database client is closed');
        for (const waiter of thread.pending.values()) waiter.reject(closed);
        thread.pending.clear();
        await thread.worker.terminate();
      })();
      return closing;
    },
  };
}
