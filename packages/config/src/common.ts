import { defineEnv } from './config.js';
import { env } from './types.js';

/** Variables every service reads. */
export const commonEnv = defineEnv({
  NATS_URL: {
    schema: env.natsUrl().default('nats://127.0.0.1:4222'),
    doc: 'NATS server(s), comma-separated; distributed mode only',
  },
  ENVIRONMENT: { schema: env.environment(), doc: 'deployment environment label on logs, traces and metrics' },
  LOG_LEVEL: { schema: env.logLevel(), doc: 'pino log level' },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    schema: env.httpUrl().optional(),
    doc: 'OTLP/HTTP collector; traces are exported only when set',
  },
  PYROSCOPE_SERVER_ADDRESS: {
    schema: env.httpUrl().optional(),
    doc: 'Pyroscope server; continuous profiling only when set',
  },
  SHUTDOWN_GRACE_MS: {
    schema: env.int(10_000, 0),
    doc: 'how long a stopping service waits for in-flight requests',
  },
  REQUEST_TIMEOUT_MS: {
    schema: env.int(2_000, 1),
    doc: 'default deadline of a NATS request when the caller sets none',
  },
});

export const redisEnv = defineEnv({
  REDIS_URL: { schema: env.redisUrl().optional(), doc: 'Redis; unset or down -> in-process cache only' },
});

export const databaseEnv = defineEnv({
  DATABASE_URL: {
    schema: env.postgresUrl().optional(),
    doc: 'Postgres (through PgBouncer in production); unset -> embedded PGlite in REGATTA_DATA_DIR',
  },
  DATABASE_POOL_MAX: { schema: env.int(10, 1, 1000), doc: 'Postgres pool size per process' },
  REGATTA_DATA_DIR: {
    schema: env.path('.regatta/data'),
    doc: 'local data directory: embedded stores (PGlite, SQLite) and the spools of rows not yet written at shutdown (decisions, usage); relative paths are from the repository root',
  },
});

export const metricsEnv = (port: number) =>
  defineEnv({
    METRICS_PORT: {
      schema: env.port(port),
      doc: "port of the service's /metrics and /health listener (0 = none)",
    },
  });
