import { setTimeout as delay } from 'node:timers/promises';
import { RegattaError } from '@regatta/contracts';
import { counter, createLogger, gauge, histogram, type Logger } from '@regatta/telemetry';
import type { SqlExecutor } from './client.js';
import { isDataError, toDbError } from './errors.js';
import { quoteIdent, quoteTable } from './sql.js';

/** Postgres accepts at most this many bind parameters in one statement. */
export const MAX_BIND_PARAMETERS = 65_535;

/** Exponential backoff while the database is failing. */
export interface RetryOptions {
  /** First delay (default 100 ms). */
  initialDelayMs?: number;
  /** Cap of the delay (default 5000 ms). */
  maxDelayMs?: number;
}

/** Options of {@link WriteBehindWriter}. */
export interface WriteBehindOptions<Row extends object> {
  /** Where rows go: a `SqlClient` (only `query` is used). */
  client: Pick<SqlExecutor, 'query'>;
  /** Target table, optionally schema-qualified. */
  table: string;
  /** Columns written, in order; each is also the property read from a row. */
  columns: readonly (keyof Row & string)[];
  /**
   * Columns of a unique constraint identifying a row. Inserts use ON CONFLICT (...) DO NOTHING, so
   * re-sending a batch whose first attempt may have committed cannot duplicate rows.
   */
  conflictKey: readonly (keyof Row & string)[];
  /** Most rows held in memory; past it `add()` throws OVERLOADED (default 10000). */
  maxBuffer?: number;
  /** Rows per INSERT (default 500; lowered so rows x columns stays within 65535 parameters). */
  batchSize?: number;
  /** A row waits at most this long for a batch to fill before it is written (default 200 ms). */
  flushIntervalMs?: number;
  retry?: RetryOptions;
  /** How long `close()` keeps retrying before it gives up on the rest (default 10000 ms). */
  closeTimeoutMs?: number;
  logger?: Logger;
}

/** Replaceable clock pieces, for tests. */
export interface WriterDeps {
  /** Waits `ms`; must resolve early when `signal` aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1), for jitter. */
  random: () => number;
}

/** Writer health: `degraded` while rows are held because the database is failing or the buffer is nearly full. */
export interface WriterHealth {
  status: 'ok' | 'degraded';
  detail?: string;
}

/**
 * Counters of one writer since it was created. Every accepted row ends in exactly one of
 * written, duplicates, rejected or (after close) unwritten.
 */
export interface WriterStats {
  /** Rows accepted and not yet written. */
  buffered: number;
  /** Rows inserted by a statement whose commit was confirmed. */
  written: number;
  /** Rows skipped by ON CONFLICT because a row with their key already existed (e.g. a retried batch). */
  duplicates: number;
  /** Rows the database refused as invalid (bad value, constraint); logged, never retried. */
  rejected: number;
  /** Rows refused by `add()` because the buffer was full. */
  overloaded: number;
  /** Batch attempts that failed and were retried. */
  retries: number;
}

/** What `close()` reports. */
export interface CloseReport extends WriterStats {
  /** Accepted rows not confirmed written when the close timeout ran out. */
  unwritten: number;
}

interface Entry {
  values: unknown[];
  seq: number;
  settled: boolean;
  waiter?: { resolve: () => void; reject: (err: RegattaError) => void };
}

interface FlushWaiter {
  seq: number;
  resolve: () => void;
  reject: (err: RegattaError) => void;
}

const defaultDeps: WriterDeps = {
  sleep: (ms, signal) => delay(ms, undefined, { signal }).catch(() => undefined),
  random: Math.random,
};

const LOG_EVERY_MS = 10_000;
const DEGRADED_FILL = 0.8;

const bufferedRows = gauge({
  name: 'db_writer_buffered_rows',
  help: 'Rows accepted by write-behind writers and not yet written',
  labelNames: ['table'],
});
const rowsTotal = counter({
  name: 'db_writer_rows_total',
  help: 'Rows handled by write-behind writers, by outcome (written, duplicate, rejected, overloaded, unwritten)',
  labelNames: ['table', 'outcome'],
});
const flushDuration = histogram({
  name: 'db_writer_flush_duration_seconds',
  help: 'Duration of one batch INSERT attempt of a write-behind writer',
  labelNames: ['table'],
});
const retriesTotal = counter({
  name: 'db_writer_retries_total',
  help: 'Batch INSERT attempts that failed and were retried',
  labelNames: ['table'],
});

/**
 * Delay before retry number `attempt` (1-based): exponential from `initialDelayMs`, capped at
 * `maxDelayMs`, with "equal jitter" (half fixed, half random) so many writers recovering together
 * spread out without ever retrying immediately.
 */
export function backoffDelay(attempt: number, retry: Required<RetryOptions>, random: () => number): number {
  const exponential = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return exponential / 2 + (random() * exponential) / 2;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v <= 0)
    throw new RegattaError('INVALID_ARGUMENT', `${name} must be a positive integer, got ${v}`);
  return v;
}

/**
 * Buffers rows in memory and writes them in batches (multi-row INSERT ... ON CONFLICT DO NOTHING),
 * in the order they were added, so request paths never wait on the database. While the database
 * is down it retries with capped, jittered exponential backoff and keeps every accepted row; when
 * the bounded buffer is full `add()` refuses with OVERLOADED instead of dropping anything.
 */
export class WriteBehindWriter<Row extends object> {
  private readonly client: Pick<SqlExecutor, 'query'>;
  private readonly table: string;
  private readonly columns: readonly string[];
  private readonly conflictColumns: readonly string[];
  private readonly maxBuffer: number;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly retry: Required<RetryOptions>;
  private readonly closeTimeoutMs: number;
  private readonly logger: Logger;
  private readonly deps: WriterDeps;
  private readonly insertPrefix: string;
  private readonly insertSuffix: string;
  private readonly fullBatchSql: string;

  private buffer: Entry[] = [];
  private nextSeq = 0;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushWaiters: FlushWaiter[] = [];
  private state: 'open' | 'closing' | 'closed' = 'open';
  private closing: Promise<CloseReport> | undefined;
  private readonly abort = new AbortController();
  private failing: { since: number; error: RegattaError; lastLog: number } | undefined;
  private readonly counts: WriterStats = {
    buffered: 0,
    written: 0,
    duplicates: 0,
    rejected: 0,
    overloaded: 0,
    retries: 0,
  };

  constructor(options: WriteBehindOptions<Row>, deps: Partial<WriterDeps> = {}) {
    this.client = options.client;
    this.table = options.table;
    const table = quoteTable(options.table);
    if (options.columns.length === 0)
      throw new RegattaError('INVALID_ARGUMENT', `writer for ${options.table} needs columns`);
    if (new Set(options.columns).size !== options.columns.length) {
      throw new RegattaError('INVALID_ARGUMENT', `writer for ${options.table} lists a column twice`);
    }
    if (options.conflictKey.length === 0) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `writer for ${options.table} needs a conflictKey so retries cannot duplicate rows`,
      );
    }
    for (const key of options.conflictKey) {
      if (!options.columns.includes(key)) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `conflictKey column "${key}" is not among the columns of ${options.table}`,
        );
      }
    }
    this.columns = [...options.columns];
    this.conflictColumns = [...options.conflictKey];
    this.maxBuffer = positiveInt('maxBuffer', options.maxBuffer, 10_000);
    const maxRowsPerStatement = Math.floor(MAX_BIND_PARAMETERS / this.columns.length);
    this.batchSize = Math.min(positiveInt('batchSize', options.batchSize, 500), maxRowsPerStatement);
    this.flushIntervalMs = positiveInt('flushIntervalMs', options.flushIntervalMs, 200);
    this.retry = {
      initialDelayMs: positiveInt('retry.initialDelayMs', options.retry?.initialDelayMs, 100),
      maxDelayMs: positiveInt('retry.maxDelayMs', options.retry?.maxDelayMs, 5000),
    };
    this.closeTimeoutMs = positiveInt('closeTimeoutMs', options.closeTimeoutMs, 10_000);
    this.logger = (options.logger ?? createLogger('db')).child({ table: options.table });
    this.deps = { ...defaultDeps, ...deps };

    this.insertPrefix = `INSERT INTO ${table} (${this.columns.map((c) => quoteIdent(c, 'column')).join(', ')}) VALUES `;
    this.insertSuffix = ` ON CONFLICT (${this.conflictColumns.map((c) => quoteIdent(c, 'column')).join(', ')}) DO NOTHING`;
    this.fullBatchSql = this.insertSql(this.batchSize);
  }

  /** Rows per INSERT after applying the parameter limit. */
  get effectiveBatchSize(): number {
    return this.batchSize;
  }

  /**
   * Accepts a row for writing and returns at once. Throws OVERLOADED when the buffer is full,
   * UNAVAILABLE once the writer is closing, INVALID_ARGUMENT when a column is missing
   * (`undefined`; use `null` for SQL NULL) or a conflict-key column is null.
   */
  add(row: Row): void {
    this.admit([row]);
  }

  /** Accepts all rows or none (same errors as `add`), keeping their order. */
  addMany(rows: readonly Row[]): void {
    this.admit(rows);
  }

  /**
   * Like `add`, but the promise resolves once the row is committed, or rejects if it never will be.
   * A row the writer does not accept throws at once, as `add` does, so a caller can keep it elsewhere
   * (the promise is only for rows that were accepted).
   */
  addAndWait(row: Row): Promise<void> {
    const [entry] = this.admit([row]);
    return new Promise<void>((resolve, reject) => {
      entry!.waiter = { resolve, reject };
    });
  }

  /**
   * Writes everything buffered now and resolves once it is committed (rows the database refused
   * as invalid count as done). While the database is down this keeps waiting; with `timeoutMs` it
   * rejects with DEADLINE_EXCEEDED instead and the rows stay buffered.
   */
  flush(timeoutMs?: number): Promise<void> {
    const last = this.buffer[this.buffer.length - 1];
    if (!last) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: FlushWaiter = {
        seq: last.seq,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.flushWaiters = this.flushWaiters.filter((w) => w !== waiter);
          reject(
            new RegattaError(
              'DEADLINE_EXCEEDED',
              `flush of ${this.table} did not finish within ${timeoutMs} ms`,
              {
                buffered: this.buffer.length,
              },
            ),
          );
        }, timeoutMs);
      }
      this.flushWaiters.push(waiter);
      this.startNow();
    });
  }

  /**
   * Stops accepting rows and writes the buffer, retrying while the database is down, for up to
   * `closeTimeoutMs`. Resolves with counters including `unwritten`, the rows it had to give up on
   * (logged as an error). Idempotent: later calls return the same report.
   */
  close(): Promise<CloseReport> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** `degraded` while the database is failing (rows are held and retried) or the buffer is over 80% full. */
  health(): WriterHealth {
    const held = `${this.buffer.length} rows buffered`;
    if (this.failing) {
      const seconds = Math.round((Date.now() - this.failing.since) / 1000);
      return {
        status: 'degraded',
        detail: `${this.table}: database failing for ${seconds} s, ${held}: ${this.failing.error.message}`,
      };
    }
    if (this.buffer.length >= this.maxBuffer * DEGRADED_FILL) {
      return {
        status: 'degraded',
        detail: `${this.table}: writes falling behind, ${held} of ${this.maxBuffer}`,
      };
    }
    return { status: 'ok', detail: `${this.table}: ${held}` };
  }

  /** Rows the buffer can take now before it refuses with OVERLOADED. */
  room(): number {
    return this.state === 'open' ? Math.max(0, this.maxBuffer - this.buffer.length) : 0;
  }

  /** Counters since creation. */
  stats(): WriterStats {
    return { ...this.counts, buffered: this.buffer.length };
  }

  private admit(rows: readonly Row[]): Entry[] {
    if (this.state !== 'open') {
      throw new RegattaError('UNAVAILABLE', `writer for ${this.table} is closed and accepts no rows`);
    }
    if (this.buffer.length + rows.length > this.maxBuffer) {
      this.counts.overloaded += rows.length;
      rowsTotal.inc({ table: this.table, outcome: 'overloaded' }, rows.length);
      throw new RegattaError(
        'OVERLOADED',
        `write buffer of ${this.table} is full (${this.buffer.length}/${this.maxBuffer} rows): the database is not keeping up`,
        { table: this.table, buffered: this.buffer.length, maxBuffer: this.maxBuffer },
        1,
      );
    }
    // Values are copied now, so a caller mutating the row afterwards cannot change what is written.
    const entries = rows.map((row): Entry => ({ values: this.valuesOf(row), seq: 0, settled: false }));
    for (const entry of entries) {
      entry.seq = this.nextSeq++;
      this.buffer.push(entry);
    }
    bufferedRows.inc({ table: this.table }, entries.length);
    this.schedule();
    return entries;
  }

  private valuesOf(row: Row): unknown[] {
    const record = row as Record<string, unknown>;
    return this.columns.map((column) => {
      const value = record[column];
      if (value === undefined) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `row for ${this.table} has no value for column "${column}" (use null for SQL NULL)`,
        );
      }
      if (value === null && this.conflictColumns.includes(column)) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `row for ${this.table} has null in conflict-key column "${column}"`,
        );
      }
      return value;
    });
  }

  private get urgent(): boolean {
    return this.flushWaiters.length > 0 || this.state !== 'open';
  }

  /** Starts writing now if a batch is full or someone waits, else after `flushIntervalMs`. */
  private schedule(): void {
    if (this.running || this.buffer.length === 0 || this.abort.signal.aborted) return;
    if (this.buffer.length >= this.batchSize || this.urgent) {
      this.startNow();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.startNow();
    }, this.flushIntervalMs);
  }

  private startNow(): void {
    if (this.running || this.abort.signal.aborted) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.drain()
      .catch((err: unknown) => {
        // drain() handles database errors itself; anything reaching here is a bug, not an outage.
        this.logger.error(
          { error: err instanceof Error ? err.message : String(err) },
          'write-behind writer loop failed',
        );
      })
      .finally(() => {
        this.running = undefined;
        this.schedule();
      });
  }

  /** Writes batches from the head of the buffer until it is empty, or only a partial batch is left and nobody is waiting. */
  private async drain(): Promise<void> {
    while (this.buffer.length > 0 && !this.abort.signal.aborted) {
      const batch = this.buffer.slice(0, this.batchSize);
      await this.writeWithRetry(batch);
      this.removeSettled();
      if (this.buffer.length < this.batchSize && !this.urgent) return;
    }
  }

  /** Writes `batch` until it commits, or until invalid rows are isolated and refused; returns early only on abort. */
  private async writeWithRetry(batch: Entry[]): Promise<void> {
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      let error: RegattaError;
      try {
        await this.insert(batch);
        this.recovered();
        return;
      } catch (err) {
        error = toDbError(err);
      }
      if (isDataError(error)) {
        this.recovered();
        await this.isolateInvalid(batch, error);
        return;
      }
      // Anything else (unreachable, timeout, missing table, permissions) is the system's fault,
      // not the rows': keep them and retry until it is fixed or close() gives up.
      attempt += 1;
      this.counts.retries += 1;
      retriesTotal.inc({ table: this.table });
      this.noteFailure(error, attempt, batch.length);
      await this.deps.sleep(backoffDelay(attempt, this.retry, this.deps.random), this.abort.signal);
    }
  }

  /** Splits a batch the database refused as invalid until the offending rows stand alone, then refuses only them. */
  private async isolateInvalid(batch: Entry[], error: RegattaError): Promise<void> {
    if (batch.length === 1) {
      const entry = batch[0]!;
      this.counts.rejected += 1;
      rowsTotal.inc({ table: this.table, outcome: 'rejected' });
      this.logger.error(
        { error: error.message, sqlstate: error.details?.sqlstate },
        'database refused a row; it was dropped',
      );
      this.settle([entry], error);
      return;
    }
    const middle = Math.ceil(batch.length / 2);
    // Halves in order, so rows still commit in the order they were added.
    await this.writeWithRetry(batch.slice(0, middle));
    await this.writeWithRetry(batch.slice(middle));
  }

  private async insert(batch: Entry[]): Promise<void> {
    const params: unknown[] = [];
    for (const entry of batch) params.push(...entry.values);
    const sql = batch.length === this.batchSize ? this.fullBatchSql : this.insertSql(batch.length);
    const stopTimer = flushDuration.startTimer({ table: this.table });
    let inserted: number;
    try {
      inserted = (await this.client.query(sql, params)).rowCount;
    } finally {
      stopTimer();
    }
    // close() gave up on this batch while the INSERT was in flight and already reported it unwritten.
    if (this.state === 'closed') return;
    const duplicates = batch.length - inserted;
    this.counts.written += inserted;
    this.counts.duplicates += duplicates;
    rowsTotal.inc({ table: this.table, outcome: 'written' }, inserted);
    if (duplicates > 0) rowsTotal.inc({ table: this.table, outcome: 'duplicate' }, duplicates);
    this.settle(batch);
  }

  private insertSql(rows: number): string {
    const width = this.columns.length;
    const tuples: string[] = [];
    for (let r = 0; r < rows; r++) {
      const placeholders: string[] = [];
      for (let c = 1; c <= width; c++) placeholders.push(`$${r * width + c}`);
      tuples.push(`(${placeholders.join(', ')})`);
    }
    return this.insertPrefix + tuples.join(', ') + this.insertSuffix;
  }

  private settle(entries: Entry[], error?: RegattaError): void {
    let count = 0;
    for (const entry of entries) {
      if (entry.settled) continue;
      entry.settled = true;
      count += 1;
      if (error) entry.waiter?.reject(error);
      else entry.waiter?.resolve();
    }
    if (count > 0) bufferedRows.dec({ table: this.table }, count);
  }

  /** Drops the settled head of the buffer and releases flushes that were waiting for it. */
  private removeSettled(): void {
    let n = 0;
    while (n < this.buffer.length && this.buffer[n]!.settled) n++;
    if (n > 0) this.buffer.splice(0, n);
    const head = this.buffer[0]?.seq ?? Number.POSITIVE_INFINITY;
    const done = this.flushWaiters.filter((w) => w.seq < head);
    if (done.length === 0) return;
    this.flushWaiters = this.flushWaiters.filter((w) => w.seq >= head);
    for (const waiter of done) waiter.resolve();
  }

  private noteFailure(error: RegattaError, attempt: number, batchRows: number): void {
    const now = Date.now();
    if (!this.failing) {
      this.failing = { since: now, error, lastLog: now };
      this.logger.warn(
        { error: error.message, buffered: this.buffer.length, batchRows },
        'database write failed; holding rows and retrying',
      );
      return;
    }
    this.failing.error = error;
    if (now - this.failing.lastLog >= LOG_EVERY_MS) {
      this.failing.lastLog = now;
      this.logger.warn(
        { error: error.message, buffered: this.buffer.length, attempt },
        'database writes still failing',
      );
    }
  }

  private recovered(): void {
    if (!this.failing) return;
    this.logger.info(
      { outageMs: Date.now() - this.failing.since, buffered: this.buffer.length },
      'database writes recovered',
    );
    this.failing = undefined;
  }

  private async shutdown(): Promise<CloseReport> {
    this.state = 'closing';
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      deadline = setTimeout(resolve, this.closeTimeoutMs);
    });
    const drained = (async () => {
      while (this.buffer.length > 0 && !this.abort.signal.aborted) {
        this.startNow();
        await this.running;
      }
    })();
    await Promise.race([drained, timedOut]);
    clearTimeout(deadline);
    // Stops retries and backoff sleeps; an INSERT already in flight is not awaited.
    this.abort.abort();
    this.state = 'closed';

    const left = this.buffer.filter((entry) => !entry.settled);
    this.buffer = [];
    const unwritten = left.length;
    if (unwritten > 0) {
      const error = new RegattaError(
        'UNAVAILABLE',
        `writer for ${this.table} closed before these rows could be written (${this.closeTimeoutMs} ms close timeout)`,
      );
      this.settle(left, error);
      rowsTotal.inc({ table: this.table, outcome: 'unwritten' }, unwritten);
      this.logger.error(
        { unwritten, lastError: this.failing?.error.message },
        'write-behind writer closed with rows it could not write',
      );
      for (const waiter of this.flushWaiters) waiter.reject(error);
    } else {
      for (const waiter of this.flushWaiters) waiter.resolve();
    }
    this.flushWaiters = [];
    return { ...this.counts, buffered: 0, unwritten };
  }
}
