import { RegattaError } from '@regatta/contracts';
import { createLogger, type Logger } from '@regatta/telemetry';
import type { DbHealth, SqlClient } from './client.js';
import { type Migration, type RunMigrationsOptions, runMigrations } from './migrations.js';

/** Options of {@link BackgroundSchema}. */
export interface BackgroundSchemaOptions extends RunMigrationsOptions {
  /** What the schema belongs to, as logs and errors name it ("the API key store"). */
  what: string;
  /** The wait before the second attempt (default 200 ms); it grows by that much per attempt. */
  firstRetryMs?: number;
  /** The longest wait between attempts (default 5000 ms). */
  maxRetryMs?: number;
  logger?: Logger;
}

/**
 * A schema applied in the background: the migrations run at once and again after a growing pause while
 * they fail (the database unreachable, or a schema conflict an operator must fix), until they are applied
 * or `close()` is called. A service that owns one starts during a database outage instead of failing to
 * start, says so in `/health`, and serves what needs no database; queries that need the schema call
 * `check()` first and fail fast with UNAVAILABLE until it is there.
 */
export class BackgroundSchema {
  /** Resolves true once the migrations are applied, false if closed before. Never rejects. */
  readonly ready: Promise<boolean>;
  /**
   * Resolves after the first attempt, true if it applied the schema. A service can wait for this at start:
   * with the database up it starts with its schema in place, as if it had migrated in the foreground.
   */
  readonly firstAttempt: Promise<boolean>;
  private firstDone: ((applied: boolean) => void) | undefined;
  private state: 'pending' | 'applied' | 'closed' = 'pending';
  private lastError: string | undefined;
  private attempts = 0;
  private wakeUp: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(
    private readonly client: SqlClient,
    private readonly migrations: readonly Migration[],
    private readonly options: BackgroundSchemaOptions,
  ) {
    this.log = options.logger ?? createLogger('db');
    this.firstAttempt = new Promise((resolve) => (this.firstDone = resolve));
    this.ready = this.apply();
    void this.ready.then((applied) => this.firstDone?.(applied));
  }

  /** Whether the migrations are applied. */
  get applied(): boolean {
    return this.state === 'applied';
  }

  /** Throws UNAVAILABLE, saying why, until the schema is applied. */
  check(): void {
    if (this.state === 'applied') return;
    throw new RegattaError(
      'UNAVAILABLE',
      this.state === 'closed'
        ? `${this.options.what} is closed`
        : `${this.options.what} is not ready: its database schema is not applied yet (${this.lastError ?? 'first attempt running'})`,
    );
  }

  /** `ok` once applied; `down` with the last error while it is not. */
  health(): DbHealth {
    if (this.state === 'applied') return { status: 'ok' };
    return {
      status: 'down',
      detail:
        this.state === 'closed'
          ? 'closed before the schema was applied'
          : `schema not applied yet after ${this.attempts} attempt${this.attempts === 1 ? '' : 's'}: ${this.lastError ?? 'first attempt running'}`,
    };
  }

  /** Stops retrying; `ready` then resolves false if the schema was not applied. */
  close(): void {
    if (this.state === 'pending') this.state = 'closed';
    if (this.timer) clearTimeout(this.timer);
    this.wakeUp?.();
  }

  private async apply(): Promise<boolean> {
    const first = this.options.firstRetryMs ?? 200;
    const most = this.options.maxRetryMs ?? 5000;
    const { what: _what, firstRetryMs: _first, maxRetryMs: _most, ...migrationOptions } = this.options;
    while (this.state === 'pending') {
      this.attempts += 1;
      try {
        await runMigrations(this.client, this.migrations, { ...migrationOptions, logger: this.log });
        if (this.state !== 'pending') break;
        this.state = 'applied';
        if (this.attempts > 1)
          this.log.info({ attempts: this.attempts }, `${this.options.what}: database schema applied`);
        return true;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // Logged when the reason changes, not on every attempt of a long outage.
        if (message !== this.lastError) {
          const code = err instanceof RegattaError ? err.code : undefined;
          this.log[code === 'UNAVAILABLE' ? 'warn' : 'error'](
            { err: message, attempt: this.attempts },
            `${this.options.what}: database schema not applied; retrying in the background`,
          );
        }
        this.lastError = message;
      }
      this.firstDone?.(false);
      this.firstDone = undefined;
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        this.timer = setTimeout(resolve, Math.min(most, first * this.attempts));
        this.timer.unref();
      });
      this.wakeUp = undefined;
      this.timer = undefined;
    }
    return this.state === 'applied';
  }
}
