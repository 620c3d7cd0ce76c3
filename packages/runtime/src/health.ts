import { hostname } from 'node:os';
import { type DependencyCheck, type HealthReply, worstStatus } from '@regatta/contracts';

type Check = () => DependencyCheck | Promise<DependencyCheck>;

const started = Date.now();
const VERSION = process.env.REGATTA_VERSION ?? '0.1.0';

/** Collects a service's dependency checks and answers `<service>.health.v1` and `/health`. */
export class HealthRegistry {
  private readonly checks = new Map<string, Check>();
  private ready = false;

  constructor(
    readonly service: string,
    readonly instance = `${hostname()}:${process.pid}`,
  ) {}

  /** Adds a named dependency check (e.g. `redis`, `nats`, `model:fraud`). */
  add(name: string, check: Check): this {
    this.checks.set(name, check);
    return this;
  }

  /** Marks the service ready (models loaded, stores open); before that `ready` is false. */
  setReady(ready = true): void {
    this.ready = ready;
  }

  async report(): Promise<HealthReply> {
    const checks: Record<string, DependencyCheck> = {};
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          checks[name] = await check();
        } catch (err) {
          checks[name] = { status: 'down', detail: (err as Error).message };
        }
      }),
    );
    const status = worstStatus(Object.values(checks).map((c) => c.status));
    return {
      service: this.service,
      instance: this.instance,
      status,
      ready: this.ready && status !== 'down',
      uptime_s: Math.round((Date.now() - started) / 1000),
      version: VERSION,
      checks,
    };
  }
}
