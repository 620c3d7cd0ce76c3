import { hostname } from 'node:os';
import { type DependencyCheck, type HealthReply, worstStatus } from '@regatta/contracts';

type Check = () => DependencyCheck | Promise<DependencyCheck>;

export interface CheckOptions {
  /**
   * Whether this check being down makes the replica unready (default true). False for a dependency
   * every replica shares (a database, a downstream service): if it is down, it is down for all of
   * them, and failing readiness would only drain every replica at once, taking away what still works.
   */
  gatesReadiness?: boolean;
}

const started = Date.now();
const VERSION = process.env.REGATTA_VERSION ?? '0.1.0';

/** Collects a service's dependency checks and answers `<service>.health.v1` and `/health`. */
export class HealthRegistry {
  private readonly checks = new Map<string, { check: Check; gates: boolean }>();
  private ready = false;

  constructor(
    readonly service: string,
    readonly instance = `${hostname()}:${process.pid}`,
  ) {}

  /** Adds a named dependency check (e.g. `redis`, `nats`, `model:fraud`). */
  add(name: string, check: Check, options: CheckOptions = {}): this {
    this.checks.set(name, { check, gates: options.gatesReadiness ?? true });
    return this;
  }

  /** Marks the service ready (models loaded, stores open); before that `ready` is false. */
  setReady(ready = true): void {
    this.ready = ready;
  }

  async report(): Promise<HealthReply> {
    const checks: Record<string, DependencyCheck> = {};
    let gatingDown = false;
    await Promise.all(
      [...this.checks].map(async ([name, { check, gates }]) => {
        let result: DependencyCheck;
        try {
          result = await check();
        } catch (err) {
          result = { status: 'down', detail: (err as Error).message };
        }
        if (gates) gatingDown ||= result.status === 'down';
        checks[name] = gates ? result : { ...result, gates_readiness: false };
      }),
    );
    return {
      service: this.service,
      instance: this.instance,
      status: worstStatus(Object.values(checks).map((c) => c.status)),
      ready: this.ready && !gatingDown,
      uptime_s: Math.round((Date.now() - started) / 1000),
      version: VERSION,
      checks,
    };
  }
}
