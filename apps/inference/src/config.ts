import { availableParallelism } from 'node:os';
import { ConfigError, commonEnv, defineEnv, env, metricsEnv, redisEnv, type ConfigOf } from '@regatta/config';
import { z } from 'zod';

/** `fraud=1,churn=3`: the version served when a request pins none, per model. */
const versionPins = () =>
  z
    .string()
    .default('')
    .transform((s, ctx) => {
      const pins: Record<string, number> = {};
      for (const part of s
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)) {
        const m = /^([a-z0-9][a-z0-9_.-]*)=([1-9][0-9]{0,8})$/i.exec(part);
        if (!m) {
          ctx.addIssue({ code: 'custom', message: `"${part}" is not model=version (e.g. fraud=1)` });
          continue;
        }
        pins[m[1]!] = Number(m[2]);
      }
      return pins;
    });

/** Environment of the inference service. */
export const inferenceEnv = defineEnv({
  ...commonEnv,
  ...redisEnv,
  ...metricsEnv(9101),
  MODEL_REPOSITORY: {
    schema: env.path('apps/inference/models'),
    doc: 'model repository: <repo>/<model>/<version>/model.onnx (+ optional model.json)',
  },
  MODEL_DEFAULT_VERSIONS: {
    schema: versionPins(),
    doc: 'version served when a request pins none, per model (`fraud=1,churn=3`); the newest otherwise',
    defaultDoc: '(newest version of each model)',
  },
  INFERENCE_WORKERS: {
    schema: env.int(Math.max(1, availableParallelism() - 1), 1, 64),
    doc: 'worker threads, one ONNX session per model version each',
    defaultDoc: 'cores - 1 (at least 1)',
  },
  INFERENCE_MAX_BATCH_ROWS: {
    schema: env.int(256, 1, 1024),
    doc: 'most rows one model execution takes; a request with more rows is refused (1 = no batching)',
  },
  INFERENCE_MAX_WAIT_MS: {
    schema: env.number(0, 0),
    doc: 'longest a queued request waits for company while a worker is idle (0 = run as soon as a worker is free)',
  },
  INFERENCE_MAX_QUEUE_ROWS: {
    schema: env.int(4096, 1),
    doc: 'queued rows per model version above which requests are refused at once with OVERLOADED (503)',
  },
  INFERENCE_TIMEOUT_MS: {
    schema: env.int(0, 0),
    doc: "cap on a prediction's queue + run time, below the caller's deadline (0 = the caller's deadline only)",
  },
  INFERENCE_SHEDDING: {
    schema: env.bool(true),
    doc: 'refuse requests the fitted cost model says cannot meet their deadline (DEADLINE_EXCEEDED) instead of running them late',
  },
  INFERENCE_COST_WINDOW: {
    schema: env.int(64, 8, 100_000),
    doc: 'recent executions the cost model t = a + b*rows is fitted over',
  },
  INFERENCE_START_TIMEOUT_MS: {
    schema: env.int(60_000, 1),
    doc: 'longest the workers may take to load and warm up every model before start-up fails',
  },
  PREDICTION_CACHE: {
    schema: env.bool(true),
    doc: 'cache predictions per row (in process, and in Redis when REDIS_URL is set); requests may opt out with cache=false',
  },
  PREDICTION_CACHE_TTL_MS: {
    schema: env.int(600_000, 1),
    doc: 'lifetime of a cached prediction',
  },
  PREDICTION_CACHE_MAX_ENTRIES: {
    schema: env.int(100_000, 1),
    doc: 'predictions kept in process memory (least recently used are dropped)',
  },
});
export type InferenceConfig = ConfigOf<typeof inferenceEnv>;

/** Rules that span several variables; throws ConfigError naming each variable that is wrong. */
export function checkInferenceConfig(config: InferenceConfig): void {
  const problems: { variable: string; message: string }[] = [];
  if (config.INFERENCE_MAX_QUEUE_ROWS < config.INFERENCE_MAX_BATCH_ROWS) {
    problems.push({
      variable: 'INFERENCE_MAX_QUEUE_ROWS',
      message: `must be at least INFERENCE_MAX_BATCH_ROWS (${config.INFERENCE_MAX_BATCH_ROWS}), got ${config.INFERENCE_MAX_QUEUE_ROWS}`,
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
