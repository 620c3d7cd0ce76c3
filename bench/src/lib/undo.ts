/**
 * What a scenario has started (servers, child processes, Redis keys, temporary directories), undone in the
 * reverse order however the run ends: at its normal end, on an error anywhere (a failed start included, which
 * a `try` around the measurements alone does not see), or on Ctrl-C. Without it a failed run leaves its
 * private nats-server and services running and its keys in the shared Redis.
 */
export class Undo {
  private readonly steps: { what: string; step: () => unknown }[] = [];
  private running: Promise<void> | undefined;

  constructor() {
    process.once('uncaughtException', (err) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      void this.all().finally(() => process.exit(1));
    });
    process.once('SIGINT', () => void this.all().finally(() => process.exit(130)));
  }

  /** Registers how to undo something just started; steps run last first. */
  push(what: string, step: () => unknown): void {
    this.steps.push({ what, step });
  }

  /** Runs every step once (later calls wait for the first); a failing step is reported and the rest still run. */
  all(): Promise<void> {
    this.running ??= (async () => {
      for (const { what, step } of this.steps.splice(0).reverse()) {
        try {
          await step();
        } catch (err) {
          process.stderr.write(
            `could not undo ${what}: ${err instanceof Error ? err.message : String(err)}\n`,
          );
        }
      }
    })();
    return this.running;
  }
}
