import { appendFile, mkdir, readFile, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { type Logger } from '@regatta/telemetry';
import { type WriteBehindWriter, type WriterHealth } from './write-behind.js';

/** Options of a {@link SpooledWriter}. */
export interface SpooledWriterOptions<Row extends object> {
  /** The writer rows go through; the spooled writer closes it. */
  writer: WriteBehindWriter<Row>;
  /** Where rows not confirmed written at shutdown wait for the next start (created when needed). */
  spoolDir: string;
  /** Spool file names start with it (`<prefix>-<pid>-<ms>.jsonl`). */
  prefix: string;
  /** The row's identity: the writer's conflict key, so a row written twice is stored once. */
  keyOf: (row: Row) => string;
  /**
   * What happens to a row the writer's full buffer turns away: `spool` writes it to the spool file at once
   * (recording never fails), `throw` rethrows the writer's OVERLOADED (the caller answers 503).
   */
  whenFull: 'spool' | 'throw';
  logger: Logger;
}

/**
 * A write-behind writer whose rows survive the process: rows Postgres has not confirmed when `close()`
 * gives up are appended to a JSON-lines spool file, and `replay()` on the next start hands spooled rows
 * back to the writer. Writes are idempotent on the row's key, so a row that was written and also spooled
 * is stored once. Several processes may share the directory: each appends to files of its own.
 */
export class SpooledWriter<Row extends object> {
  private readonly pending = new Map<string, Row>();
  private readonly log: Logger;
  private spoolWrites: Promise<void> = Promise.resolve();
  /** Files whose rows were handed to the writer and are not yet all confirmed. */
  private replayedFiles: string[] = [];
  /** Deletions of replayed files whose rows were all written. */
  private readonly removals: Promise<unknown>[] = [];
  private closed = false;

  constructor(private readonly options: SpooledWriterOptions<Row>) {
    this.log = options.logger;
  }

  /**
   * Accepts a row; after `close()`, or when the buffer is full and `whenFull` is `spool`, the row goes
   * to the spool file instead. With `whenFull: 'throw'` a full buffer throws OVERLOADED.
   */
  record(row: Row): void {
    if (this.closed) {
      this.spool([row]);
      return;
    }
    const key = this.options.keyOf(row);
    let done: Promise<void>;
    try {
      done = this.options.writer.addAndWait(row);
    } catch (err) {
      if (this.options.whenFull === 'throw') throw err;
      this.log.warn({ err: (err as Error).message }, 'write buffer refused a row; spooling it to disk');
      this.spool([row]);
      return;
    }
    this.pending.set(key, row);
    done.then(
      () => this.pending.delete(key),
      (err: { code?: string }) => {
        // Rows the database refused as invalid are logged by the writer and cannot succeed later.
        if (err.code !== 'UNAVAILABLE') this.pending.delete(key);
      },
    );
  }

  /**
   * Hands the spooled rows of earlier runs to the writer, oldest file first. A file is deleted once all
   * its rows are written. When the buffer fills, the rest of that file waits for `close()` to spool it
   * again, and later files stay on disk for the next start (they are not all read into memory).
   */
  async replay(): Promise<void> {
    await mkdir(this.options.spoolDir, { recursive: true });
    const names = (await readdir(this.options.spoolDir))
      .filter((n) => n.startsWith(`${this.options.prefix}-`) && n.endsWith('.jsonl'))
      .sort();
    for (const name of names) {
      if (this.closed) return;
      const file = path.join(this.options.spoolDir, name);
      let rows: Row[];
      try {
        rows = (await readFile(file, 'utf8'))
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as Row);
      } catch (err) {
        this.log.error({ file, err: (err as Error).message }, 'unreadable spool file left in place');
        continue;
      }
      this.replayedFiles.push(file);
      const results: Promise<unknown>[] = [];
      let turnedAway = 0;
      for (const row of rows) {
        const key = this.options.keyOf(row);
        this.pending.set(key, row);
        try {
          results.push(this.options.writer.addAndWait(row).then(() => this.pending.delete(key)));
        } catch {
          // The buffer is full: the row stays pending, so close() spools it again.
          turnedAway++;
        }
      }
      this.log.info({ file, rows: rows.length, turnedAway }, 'replaying spooled rows');
      if (turnedAway > 0) break;
      void Promise.all(results).then(
        () => {
          this.replayedFiles = this.replayedFiles.filter((f) => f !== file);
          // close() waits for this, so a file whose rows are written is gone once the writer has stopped.
          const removed = unlink(file).catch(() => undefined);
          this.removals.push(removed);
          return removed;
        },
        () => undefined,
      );
    }
  }

  /** Waits until every accepted row is written (tests, and the replay of spooled rows). */
  flush(timeoutMs?: number): Promise<void> {
    return this.options.writer.flush(timeoutMs);
  }

  health(): WriterHealth {
    return this.options.writer.health();
  }

  /** Rows accepted and not yet confirmed written. */
  get unconfirmed(): number {
    return this.pending.size;
  }

  /** Writes what it can within the writer's close timeout, spools the rest, and stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const report = await this.options.writer.close();
    const left = [...this.pending.values()];
    this.pending.clear();
    if (left.length > 0) {
      this.spool(left);
      this.log.warn(
        { rows: left.length, unwritten: report.unwritten },
        'rows spooled to disk for the next start',
      );
    }
    await this.spoolWrites;
    // Every row of a replayed file is now either in the database or in the new spool file.
    await Promise.all([
      ...this.removals,
      ...this.replayedFiles.map((file) => unlink(file).catch(() => undefined)),
    ]);
  }

  private spool(rows: Row[]): void {
    const file = path.join(
      this.options.spoolDir,
      `${this.options.prefix}-${process.pid}-${Date.now()}.jsonl`,
    );
    const text = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    this.spoolWrites = this.spoolWrites
      .then(() => mkdir(this.options.spoolDir, { recursive: true }))
      .then(() => appendFile(file, text))
      .catch((err: Error) => this.log.error({ err: err.message, rows: rows.length }, 'cannot spool rows'));
  }
}
