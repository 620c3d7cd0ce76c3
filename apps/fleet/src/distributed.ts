import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { STOP_WITH_PARENT_ENV } from '@regatta/runtime';

export const FLEET_SERVICES = ['inference', 'features', 'llm-proxy', 'gateway'] as const;
export type FleetService = (typeof FLEET_SERVICES)[number];

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The file a service runs from, as its package's `start` script names it (`node <file>`): the compiled
 * entry (dist/main.js) or its bundle (dist/bundle/main.mjs). Images, the distributed fleet and the
 * benchmarks all start the service this way.
 */
export function serviceEntry(service: FleetService): string {
  const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'apps', service, 'package.json'), 'utf8')) as {
    scripts?: { start?: string };
  };
  const file = /^node (\S+)$/.exec(manifest.scripts?.start ?? '')?.[1];
  if (!file) throw new Error(`apps/${service}/package.json has no start script of the form 'node <file>'`);
  return path.join(repoRoot, 'apps', service, file);
}

export interface DistributedFleetOptions {
  natsUrl?: string;
  redisUrl?: string;
  databaseUrl?: string;
  /** Replicas per service (default 1 each). */
  replicas?: Partial<Record<FleetService, number>>;
  /** Gateway HTTP port (default: a free port). */
  gatewayPort?: number;
  /** Extra environment for every process. */
  env?: Record<string, string>;
  /** Where each process writes its log (default `.regatta/logs`). */
  logDir?: string;
  /** How long to wait for the fleet to become ready. */
  readyTimeoutMs?: number;
}

export interface FleetProcess {
  readonly service: FleetService;
  readonly index: number;
  readonly child: ChildProcess;
  readonly adminPort: number;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Polls `url` until it answers 200 (and, with `accept`, until its JSON body passes it), the process
 * exits, or the deadline passes.
 */
async function waitReady(
  url: string,
  deadline: number,
  proc: FleetProcess,
  accept?: (body: unknown) => boolean,
): Promise<void> {
  let exitCode: number | null | undefined;
  void proc.exited.then((c) => (exitCode = c));
  for (;;) {
    if (exitCode !== undefined) {
      throw new Error(
        `${proc.service}#${proc.index} exited with ${exitCode} before ready:\n${tail(proc.logFile)}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (res.ok && (!accept || accept(await res.json()))) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`${proc.service}#${proc.index} not ready at ${url}:\n${tail(proc.logFile)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function nothingDown(body: unknown): boolean {
  const checks = (body as { checks?: Record<string, { status?: string }> }).checks ?? {};
  return Object.values(checks).every((check) => check.status !== 'down');
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * The fleet as separate processes over real NATS (and Redis/Postgres when given): one
 * process per replica, each service's replicas in one queue group. Used by integration
 * tests, benchmarks and operators on one box.
 */
export class DistributedFleet {
  readonly processes: FleetProcess[] = [];
  gatewayUrl = '';

  private constructor(private readonly options: DistributedFleetOptions) {}

  static async start(options: DistributedFleetOptions = {}): Promise<DistributedFleet> {
    const fleet = new DistributedFleet(options);
    try {
      await fleet.launchAll();
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return fleet;
  }

  private baseEnv(): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NATS_URL: this.options.natsUrl ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      ...this.options.env,
    };
    const redis = this.options.redisUrl ?? process.env.REDIS_URL;
    const db = this.options.databaseUrl ?? process.env.DATABASE_URL;
    if (redis) env.REDIS_URL = redis;
    if (db) env.DATABASE_URL = db;
    return env;
  }

  /** Starts one more replica of `service` and waits until it is ready. */
  async launch(service: FleetService, extraEnv: Record<string, string> = {}): Promise<FleetProcess> {
    const index = this.processes.filter((p) => p.service === service).length;
    const adminPort =
      service === 'gateway' ? (this.options.gatewayPort ?? (await freePort())) : await freePort();
    const logDir = this.options.logDir ?? path.join(repoRoot, '.regatta/logs');
    mkdirSync(logDir, { recursive: true });
    const logFile = path.join(logDir, `${service}-${index}.log`);
    const env = {
      ...this.baseEnv(),
      SERVICE_NAME: service,
      ...(service === 'gateway' ? { PORT: String(adminPort) } : { METRICS_PORT: String(adminPort) }),
      // The service stops when this process's end of its stdin closes: a launcher that dies (killed, or a
      // second Ctrl-C) takes its replicas with it instead of leaving them running on their own.
      [STOP_WITH_PARENT_ENV]: '1',
      ...extraEnv,
    };
    const child = spawn(process.execPath, [serviceEntry(service)], {
      cwd: repoRoot,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const log = createWriteStream(logFile, { flags: 'w' });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const proc: FleetProcess = { service, index, child, adminPort, logFile, exited };
    this.processes.push(proc);
    const readyPath = service === 'gateway' ? '/health' : '/ready';
    await waitReady(
      `http://127.0.0.1:${adminPort}${readyPath}`,
      Date.now() + (this.options.readyTimeoutMs ?? 60_000),
      proc,
    );
    if (service === 'gateway') this.gatewayUrl = `http://127.0.0.1:${adminPort}`;
    return proc;
  }

  private async launchAll(): Promise<void> {
    for (const service of FLEET_SERVICES) {
      const n = this.options.replicas?.[service] ?? 1;
      // Replicas of one service start together; services start in dependency order.
      await Promise.all(Array.from({ length: n }, () => this.launch(service)));
    }
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 60_000);
    const gateway = this.processes.find((p) => p.service === 'gateway');
    // The gateway's /ready is gated by its own NATS connection only; the fleet is up once the gateway
    // also sees every service and dependency it reports.
    if (gateway) await waitReady(`${this.gatewayUrl}/ready`, deadline, gateway, nothingDown);
  }

  /** Sends `signal` to one process and resolves with its exit code. */
  async signal(proc: FleetProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
    return proc.exited;
  }

  /** Stops the gateway first, then the services, each with SIGTERM (graceful drain). */
  async stop(): Promise<void> {
    const order = [...this.processes].sort(
      (a, b) => FLEET_SERVICES.indexOf(b.service) - FLEET_SERVICES.indexOf(a.service),
    );
    for (const service of ['gateway', 'llm-proxy', 'features', 'inference'] as const) {
      await Promise.all(order.filter((p) => p.service === service).map((p) => this.signal(p)));
    }
  }
}
