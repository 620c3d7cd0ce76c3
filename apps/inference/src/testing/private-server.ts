import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { tmpdir } from 'node:os';

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => done(true));
  });
}

/**
 * A nats-server or redis-server owned by one test file, on its own port. Tests that kill a server
 * use one of these, never the machine's shared servers. Inference tests also run their own NATS:
 * the shared one may carry other test runs' inference replicas in the same queue group, and a
 * reply from one of those would make assertions about caching or batching meaningless.
 */
export class PrivateServer {
  private child: ChildProcess | undefined;
  private readonly killOnExit = () => this.child?.kill('SIGKILL');

  private constructor(
    readonly kind: 'nats' | 'redis',
    readonly port: number,
  ) {}

  /** Starts a server of `kind` on a free port and waits until it accepts connections. */
  static async start(kind: 'nats' | 'redis'): Promise<PrivateServer> {
    const server = new PrivateServer(kind, await freePort());
    await server.restart();
    return server;
  }

  get url(): string {
    return `${this.kind}://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again) on the same port. */
  async restart(): Promise<void> {
    if (this.child) return;
    const port = String(this.port);
    this.child =
      this.kind === 'nats'
        ? spawn('nats-server', ['-a', '127.0.0.1', '-p', port], { stdio: 'ignore' })
        : spawn(
            'redis-server',
            ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()],
            {
              stdio: 'ignore',
            },
          );
    process.once('exit', this.killOnExit);
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (Date.now() > deadline) throw new Error(`private ${this.kind} server on port ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
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
