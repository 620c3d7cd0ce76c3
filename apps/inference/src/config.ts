import { availableParallelism } from 'node:os';
import { commonEnv, defineEnv, env, metricsEnv, redisEnv, type ConfigOf } from '@regatta/config';

/** Environment of the inference service. */
export const inferenceEnv = defineEnv({
  ...commonEnv,
  ...redisEnv,
  ...metricsEnv(9101),
  MODEL_REPOSITORY: {
    schema: env.string('apps/inference/models'),
    doc: 'model repository: <repo>/<model>/<version>/model.onnx',
  },
  INFERENCE_WORKERS: {
    schema: env.int(Math.max(1, availableParallelism() - 1), 1, 64),
    doc: 'worker threads, one ONNX session per model version each',
    defaultDoc: 'cores - 1 (at least 1)',
  },
});
export type InferenceConfig = ConfigOf<typeof inferenceEnv>;
