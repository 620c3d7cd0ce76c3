import net from 'node:net';
import { RegattaError } from '@regatta/contracts';

/** Where a {@link TcpFaultProxy} listens and what it forwards to. */
export interface TcpFaultProxyOptions {
  /** Host the proxy forwards to (default 127.0.0.1). */
  targetHost?: string;
  /** Port the proxy forwards to. */
  targetPort: number;
  /** Port to listen on, on 127.0.0.1; 0 (the default) picks a free ephemeral port. */
  port?: number;
  /** Delay added to every chunk, in each direction (default 0). */
  latencyMs?: number;
}

/** The fault the proxy is injecting right now. */
export type FaultMode = 'pass' | 'cut' | 'blackhole';

/** Counters a test can assert on. */
export interface TcpFaultProxyStats {
  /** Connections forwarded to the target since start. */
  accepted: number;
  /** Connections reset on arrival because the proxy was cut. */
  refused: number;
  /** Live connections killed by `cut()`. */
  killed: number;
}

// Past this many bytes waiting in one direction the sending side is paused, so a long
// blackhole or a large latency cannot grow memory without bound.
const HIGH_WATER_BYTES = 1024 * 1024;

interface QueuedChunk {
  chunk: Buffer;
  due: number;
}

/** One direction of a proxied connection: delays chunks, holds them during a blackhole, keeps order. */
class DelayedPipe {
  private readonly queue: QueuedChunk[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastDue = 0;
  private ended = false;
  private waitingForDrain = false;

  constructor(
    private readonly source: net.Socket,
    private readonly dest: net.Socket,
    private readonly proxy: { latencyMs: number; mode: FaultMode },
  ) {
    source.on('data', (chunk: Buffer) => this.push(chunk));
    source.on('end', () => {
      this.ended = true;
      this.pump();
    });
    dest.on('drain', () => {
      this.waitingForDrain = false;
      this.pump();
    });
  }

  private push(chunk: Buffer): void {
    // Never schedule a chunk before the one ahead of it, even when the latency was lowered meanwhile.
    const due = Math.max(Date.now() + this.proxy.latencyMs, this.lastDue);
    this.lastDue = due;
    this.queue.push({ chunk, due });
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > HIGH_WATER_BYTES) this.source.pause();
    this.pump();
  }

  /** Writes every chunk that is due; called again by a timer, a drain, or `restore()`. */
  pump(): void {
    if (this.timer || this.waitingForDrain || this.proxy.mode === 'blackhole' || this.dest.destroyed) return;
    const now = Date.now();
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.due > now) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, head.due - now);
        return;
      }
      this.queue.shift();
      this.queuedBytes -= head.chunk.length;
      if (!this.dest.write(head.chunk)) {
        this.waitingForDrain = true;
        break;
      }
    }
    if (this.queuedBytes <= HIGH_WATER_BYTES && this.source.isPaused()) this.source.resume();
    if (this.ended && this.queue.length === 0 && !this.waitingForDrain) this.dest.end();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }
}

interface ProxiedConnection {
  client: net.Socket;
  upstream: net.Socket;
  pipes: DelayedPipe[];
}

/**
 * A TCP proxy for fault-injection tests: sits between a client and a real server (Postgres,
 * Redis, NATS) and can cut every connection, refuse new ones, hang traffic, or add latency.
 */
export class TcpFaultProxy {
  private server: net.Server | undefined;
  private readonly connections = new Set<ProxiedConnection>();
  private readonly state: { latencyMs: number; mode: FaultMode };
  private readonly counters: TcpFaultProxyStats = { accepted: 0, refused: 0, killed: 0 };
  private readonly targetHost: string;
  private readonly targetPort: number;
  private readonly listenPort: number;

  constructor(options: TcpFaultProxyOptions) {
    if (!Number.isInteger(options.targetPort) || options.targetPort <= 0 || options.targetPort > 65535) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `targetPort must be a TCP port, got ${String(options.targetPort)}`,
      );
    }
    this.targetHost = options.targetHost ?? '127.0.0.1';
    this.targetPort = options.targetPort;
    this.listenPort = options.port ?? 0;
    this.state = { latencyMs: checkLatency(options.latencyMs ?? 0), mode: 'pass' };
  }

  /** A proxy for the host and port of a URL such as `postgres://postgres@127.0.0.1:5432/test`. */
  static forUrl(
    url: string,
    options: Omit<TcpFaultProxyOptions, 'targetHost' | 'targetPort'> = {},
  ): TcpFaultProxy {
    const { host, port } = hostAndPort(url);
    return new TcpFaultProxy({ ...options, targetHost: host, targetPort: port });
  }

  /** Starts listening on 127.0.0.1; resolves once the port is known. */
  async start(): Promise<this> {
    if (this.server) return this;
    const server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return this;
  }

  /** The port the proxy listens on (after `start()`). */
  get port(): number {
    const address = this.server?.address();
    if (!address || typeof address === 'string') {
      throw new RegattaError('INVALID_ARGUMENT', 'TcpFaultProxy is not started: call start() first');
    }
    return address.port;
  }

  /** `url` with its host and port replaced by the proxy's, e.g. a DATABASE_URL that goes through the proxy. */
  urlFor(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  /** The fault being injected now. */
  get mode(): FaultMode {
    return this.state.mode;
  }

  /** Number of connections currently forwarded. */
  get activeConnections(): number {
    return this.connections.size;
  }

  /** Counters since start. */
  get stats(): Readonly<TcpFaultProxyStats> {
    return { ...this.counters };
  }

  /**
   * Resets every live connection (clients see ECONNRESET) and resets new ones on arrival until
   * `restore()`. The listening port stays reserved, so restoring never races another process for it.
   */
  cut(): void {
    this.state.mode = 'cut';
    for (const connection of [...this.connections]) {
      this.counters.killed += 1;
      this.destroy(connection);
    }
  }

  /**
   * Stops delivering bytes in both directions without closing anything, like a network partition:
   * clients hang until their own timeouts fire. `restore()` delivers what was held, in order.
   */
  blackhole(): void {
    this.state.mode = 'blackhole';
  }

  /** Ends `cut()` or `blackhole()`: new connections are forwarded again and held bytes flow. */
  restore(): void {
    this.state.mode = 'pass';
    for (const connection of this.connections) for (const pipe of connection.pipes) pipe.pump();
  }

  /** Changes the latency added to each chunk from now on. */
  setLatency(latencyMs: number): void {
    this.state.latencyMs = checkLatency(latencyMs);
  }

  /** Closes the listener and every connection. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const connection of [...this.connections]) this.destroy(connection);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.state.mode === 'cut') {
      this.counters.refused += 1;
      client.resetAndDestroy();
      return;
    }
    this.counters.accepted += 1;
    const upstream = net.connect({ host: this.targetHost, port: this.targetPort });
    upstream.on('error', () => undefined);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const connection: ProxiedConnection = {
      client,
      upstream,
      pipes: [new DelayedPipe(client, upstream, this.state), new DelayedPipe(upstream, client, this.state)],
    };
    this.connections.add(connection);
    // Either side closing takes the other down, the way a real connection would end.
    client.once('close', () => this.destroy(connection));
    upstream.once('close', () => this.destroy(connection));
  }

  private destroy(connection: ProxiedConnection): void {
    if (!this.connections.delete(connection)) return;
    for (const pipe of connection.pipes) pipe.dispose();
    if (!connection.client.destroyed) connection.client.resetAndDestroy();
    if (!connection.upstream.destroyed) connection.upstream.destroy();
  }
}

function checkLatency(latencyMs: number): number {
  if (!Number.isFinite(latencyMs) || latencyMs < 0) {
    throw new RegattaError('INVALID_ARGUMENT', `latencyMs must be a non-negative number, got ${latencyMs}`);
  }
  return latencyMs;
}

const DEFAULT_PORTS: Record<string, number> = {
  'postgres:': 5432,
  'postgresql:': 5432,
  'redis:': 6379,
  'rediss:': 6379,
  'nats:': 4222,
  'http:': 80,
  'https:': 443,
};

function hostAndPort(url: string): { host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RegattaError('INVALID_ARGUMENT', `not a URL: ${url}`);
  }
  const port = parsed.port ? Number(parsed.port) : DEFAULT_PORTS[parsed.protocol];
  if (port === undefined)
    throw new RegattaError('INVALID_ARGUMENT', `URL ${parsed.protocol}// has no port and no known default`);
  // URL keeps the brackets of an IPv6 literal, which net.connect does not accept.
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', port };
}
