import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { tmpdir } from 'node:os';

/** A loopback TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Polls `check` every `intervalMs` until it holds; fails naming `what` after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** True once a server on `port` answers: a Redis `PING` gets `+PONG`, any other server accepts the connection. */
function answers(kind: PrivateServerKind, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    if (kind === 'redis') {
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data: Buffer) => done(data.toString().startsWith('+PONG')));
    } else {
      socket.once('connect', () => done(true));
    }
  });
}

/** The servers a test may run privately. */
export type PrivateServerKind = 'nats' | 'redis';

/**
 * A nats-server or redis-server owned by one test file, on its own loopback port. Tests that kill a server
 * (as a crash) and start it again use one of these, never the machine's shared servers; so do tests that
 * must not share a NATS queue group with other runs' replicas. A test run that dies without its `afterAll`
 * leaves no server behind.
 */
export class PrivateServer {
  private child: ChildProcess | undefined;
  private readonly killOnExit = () => this.child?.kill('SIGKILL');

  private constructor(
    readonly kind: PrivateServerKind,
    readonly port: number,
  ) {}

  /** Starts a server of `kind` on a free port and waits until it answers. */
  static async start(kind: PrivateServerKind): Promise<PrivateServer> {
    const server = new PrivateServer(kind, await freePort());
    await server.restart();
    return server;
  }

  get url(): string {
    return `${this.kind}://127.0.0.1:${this.port}`;
  }

  /** The server's process id while it runs (for CPU accounting in benchmarks). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the server (again, after {@link kill}) on the same port and waits until it answers. */
  async restart(): Promise<void> {
    if (this.child) return;
    const port = String(this.port);
    this.child =
      this.kind === 'nats'
        ? spawn('nats-server', ['-a', '127.0.0.1', '-p', port], { stdio: 'ignore' })
        : spawn(
            'redis-server',
            ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()],
            { stdio: 'ignore' },
          );
    process.once('exit', this.killOnExit);
    try {
      await eventually(() => answers(this.kind, this.port), `private ${this.kind} server on port ${port}`);
    } catch (err) {
      await this.kill();
      throw err;
    }
  }

  /** Kills the server as a crash would (SIGKILL) and waits for it to exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    process.off('exit', this.killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
}
