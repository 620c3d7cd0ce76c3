import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RegattaError } from '@regatta/contracts';
import { freePort } from '@regatta/testing';
import { renderIni, withIniOverrides, type IniFile } from '../ini.js';

/** A private PgBouncer started by a test. */
export interface RunningPgBouncer {
  port: number;
  /** `postgres://user:password@127.0.0.1:<port>/<database>`. */
  url(database: string): string;
  /** What PgBouncer wrote to stderr so far (shown when a test fails). */
  log(): string;
  /** Stops it (SIGTERM, then SIGKILL after 3 s) and removes its files. */
  stop(): Promise<void>;
}

/** Options of {@link startPgBouncer}. */
export interface StartPgBouncerOptions {
  /** The configuration to run; listen address, port, auth file and logging are replaced. */
  ini: IniFile;
  /** `[databases]` entries, e.g. `{ test: 'host=127.0.0.1 port=5432 dbname=test' }`. */
  databases: Record<string, string>;
  user: string;
  password: string;
  /** Extra `[pgbouncer]` settings (e.g. a tiny pool for an exhaustion test). */
  settings?: Record<string, string>;
}

/** Whether the pgbouncer binary is installed (Debian package `pgbouncer`). */
export function pgbouncerInstalled(): boolean {
  return spawnSync('pgbouncer', ['--version'], { timeout: 10_000 }).status === 0;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/**
 * Starts PgBouncer on a free loopback port with `ini`'s pool settings in front of the given
 * databases, and waits until it accepts connections. Runs as `nobody` when the test runs as root
 * (PgBouncer refuses root).
 */
export async function startPgBouncer(options: StartPgBouncerOptions): Promise<RunningPgBouncer> {
  if (!pgbouncerInstalled()) {
    throw new RegattaError('UNAVAILABLE', 'pgbouncer is not installed: apt-get install -y pgbouncer');
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'regatta-pgbouncer-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const authFile = path.join(dir, 'userlist.txt');
  writeFileSync(authFile, `"${options.user}" "${options.password}"\n`, { mode: 0o644 });
  const base = withIniOverrides(options.ini, {
    pgbouncer: {
      listen_addr: '127.0.0.1',
      listen_port: String(port),
      unix_socket_dir: '',
      auth_file: authFile,
      logfile: '',
      pidfile: '',
      ...options.settings,
    },
  });
  // [databases] is replaced whole: the shipped entries name hosts that exist only in a cluster.
  const ini: IniFile = new Map([['databases', new Map(Object.entries(options.databases))]]);
  for (const [section, entries] of base) if (section !== 'databases') ini.set(section, entries);
  const iniFile = path.join(dir, 'pgbouncer.ini');
  writeFileSync(iniFile, renderIni(ini), { mode: 0o644 });

  const args = process.getuid?.() === 0 ? ['-u', 'nobody', iniFile] : [iniFile];
  const child: ChildProcess = spawn('pgbouncer', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      cleanup();
      throw new RegattaError('UNAVAILABLE', `pgbouncer did not start on port ${port}:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    port,
    url: (database) =>
      `postgres://${encodeURIComponent(options.user)}:${encodeURIComponent(options.password)}@127.0.0.1:${port}/${database}`,
    log: () => stderr,
    stop: async () => {
      if (child.exitCode === null) {
        // PgBouncer 1.18: SIGTERM is an immediate shutdown.
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      cleanup();
    },
  };
}
