import { appendFile, mkdir, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
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
  /**
   * While running, spooled rows are handed back to the writer this often once the database takes writes
   * again (the writer healthy and room in its buffer); 0 replays them only at the next start. Default 5000.
   */
  recoverEveryMs?: number;
  /** A spool file is left alone until it has not been appended to for this long. Default 2000. */
  settleMs?: number;
  logger: Logger;
}

const CLAIM = '.replaying-';

/** The pid in a claimed spool file's name (`<name>.jsonl.replaying-<pid>`). */
function claimant(name: string): number | undefined {
  const at = name.lastIndexOf(CLAIM);
  return at < 0 ? undefined : Number(name.slice(at + CLAIM.length));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A write-behind writer whose rows survive the process: rows Postgres has not confirmed when `close()`
 * gives up (or, with `whenFull: 'spool'`, that a full buffer turns away) are appended to a JSON-lines spool
 * file. `replay()` on the next start hands spooled rows back to the writer, and while the process runs they
 * are handed back as soon as the database takes writes again. Writes are idempotent on the row's key, so a
 * row that was written and also spooled is stored once. Several processes may share the directory: each
 * appends to files of its own, and a file is replayed by one process at a time — it is first renamed to
 * `<file>.replaying-<pid>` (a claim; a claim whose process is gone is taken over) and deleted only once
 * every row in it is written.
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
  private recovering: Promise<void> | undefined;
  private readonly recoverTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SpooledWriterOptions<Row>) {
    this.log = options.logger;
    const every = options.recoverEveryMs ?? 5_000;
    if (every > 0) {
      this.recoverTimer = setInterval(() => void this.recover(), every);
      this.recoverTimer.unref();
    }
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
    for (const file of await this.spoolFiles('start')) {
      if (this.closed) return;
      const claimed = await this.claim(file);
      if (!claimed) continue;
      const rows = await this.readRows(claimed);
      if (!rows) continue;
      this.replayedFiles.push(claimed);
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
      this.log.info({ file: claimed, rows: rows.length, turnedAway }, 'replaying spooled rows');
      if (turnedAway > 0) break;
      void Promise.all(results).then(
        () => {
          this.replayedFiles = this.replayedFiles.filter((f) => f !== claimed);
          // close() waits for this, so a file whose rows are written is gone once the writer has stopped.
          const removed = unlink(claimed).catch(() => undefined);
          this.removals.push(removed);
          return removed;
        },
        () => undefined,
      );
    }
  }

  /**
   * Hands back spooled rows while running: when the writer is healthy, each settled spool file is claimed,
   * its rows written in chunks that leave room for new rows, and the file deleted. A file whose rows cannot
   * all be written is given back (renamed to its old name) for a later round; rows already written are
   * stored once. Runs on a timer (`recoverEveryMs`); callable directly. Resolves when this round is over.
   */
  recover(): Promise<void> {
    this.recovering ??= this.recoverRound().finally(() => (this.recovering = undefined));
    return this.recovering;
  }

  private async recoverRound(): Promise<void> {
    const writer = this.options.writer;
    if (this.closed || writer.health().status !== 'ok') return;
    // This process's own appends land before any of its files is looked at.
    await this.spoolWrites;
    const settleMs = this.options.settleMs ?? 2_000;
    for (const file of await this.spoolFiles('running')) {
      if (this.closed || writer.health().status !== 'ok') return;
      const modified = await stat(file).then(
        (s) => s.mtimeMs,
        () => undefined,
      );
      // File times carry fractions of a millisecond and Date.now() does not: a file appended to in the
      // current millisecond would otherwise look appended to in the future and never settle at 0 ms.
      if (modified === undefined || Date.now() - Math.floor(modified) < settleMs) continue;
      const claimed = await this.claim(file);
      if (!claimed) continue;
      const rows = await this.readRows(claimed);
      if (!rows) continue;
      const original = claimed.slice(0, claimed.lastIndexOf(CLAIM));
      if (!(await this.writeInChunks(rows))) {
        // The writer closed, the database failed again, or it refused rows: the file waits for a later round.
        await rename(claimed, original).catch(() => undefined);
        this.log.warn({ file: original, rows: rows.length }, 'spooled rows not all written; kept');
        return;
      }
      await unlink(claimed).catch(() => undefined);
      this.log.info({ file: original, rows: rows.length }, 'spooled rows written');
    }
  }

  /**
   * Hands `rows` to the writer a chunk at a time, each at most half the buffer's free room so new rows keep
   * finding space, and waits for each chunk to be written. False when it had to stop.
   */
  private async writeInChunks(rows: Row[]): Promise<boolean> {
    const writer = this.options.writer;
    for (let next = 0; next < rows.length;) {
      const room = writer.room();
      if (this.closed || room === 0 || writer.health().status !== 'ok') return false;
      const size = Math.min(rows.length - next, Math.max(1, Math.floor(room / 2)));
      const chunk = rows.slice(next, next + size);
      const written = await Promise.allSettled(chunk.map((row) => writer.addAndWait(row)));
      if (written.some((r) => r.status === 'rejected')) return false;
      next += size;
    }
    return true;
  }

  /**
   * Spool files of this prefix, oldest first. At start every claimed file is included too (a crashed run's,
   * or another process's: replaying a row twice stores it once). While running, a claimed file is included
   * only when no live process holds it: its claimant is gone, or it carries this process's pid (a container's
   * earlier process had it) without being one this process is replaying.
   */
  private async spoolFiles(when: 'start' | 'running'): Promise<string[]> {
    await mkdir(this.options.spoolDir, { recursive: true });
    const files = (await readdir(this.options.spoolDir))
      .filter((n) => {
        if (!n.startsWith(`${this.options.prefix}-`)) return false;
        if (n.endsWith('.jsonl')) return true;
        const pid = claimant(n);
        if (pid === undefined || !n.includes(`.jsonl${CLAIM}`)) return false;
        if (when === 'start') return true;
        return pid === process.pid || !alive(pid);
      })
      .sort()
      .map((n) => path.join(this.options.spoolDir, n));
    return files.filter((f) => !this.replayedFiles.includes(f));
  }

  /** Renames a spool file to this process's claim on it; undefined if another process took it first. */
  private async claim(file: string): Promise<string | undefined> {
    const at = file.lastIndexOf(CLAIM);
    const claimed = `${at < 0 ? file : file.slice(0, at)}${CLAIM}${process.pid}`;
    try {
      await rename(file, claimed);
      return claimed;
    } catch {
      return undefined;
    }
  }

  private async readRows(file: string): Promise<Row[] | undefined> {
    try {
      return (await readFile(file, 'utf8'))
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Row);
    } catch (err) {
      this.log.error({ file, err: (err as Error).message }, 'unreadable spool file left in place');
      return undefined;
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
    if (this.recoverTimer) clearInterval(this.recoverTimer);
    // A recovery round in progress ends when the writer closes: its file is then given back.
    const round = this.recovering;
    const report = await this.options.writer.close();
    await round;
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
