import { trace } from '@opentelemetry/api';
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

const root: { logger?: Logger } = {};

/** Options for the process-wide logger; call before the first `createLogger` to take effect. */
export function configureLogging(
  options: { level?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  const wanted = options.level ?? process.env.LOG_LEVEL ?? 'info';
  // A bad LOG_LEVEL is reported by config validation; logging must work long enough to say so.
  const level = wanted in pino.levels.values || wanted === 'silent' ? wanted : 'info';
  const config: LoggerOptions = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Every line written inside a traced operation carries its trace and span ids.
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const { traceId, spanId } = span.spanContext();
      return { trace_id: traceId, span_id: spanId };
    },
    redact: { paths: ['*.authorization', '*.api_key', '*.apiKey', '*.password'], censor: '[redacted]' },
  };
  root.logger = options.destination ? pino(config, options.destination) : pino(config);
  return root.logger;
}

/** A structured JSON logger for one component (`service` field set). */
export function createLogger(service: string, bindings: Record<string, unknown> = {}): Logger {
  const logger = root.logger ?? configureLogging();
  return logger.child({ service, ...bindings });
}
