import { commonEnv, databaseEnv, defineEnv, metricsEnv, redisEnv, type ConfigOf } from '@regatta/config';

/** Environment of the llm-proxy service. */
export const llmProxyEnv = defineEnv({
  ...commonEnv,
  ...redisEnv,
  ...databaseEnv,
  ...metricsEnv(9103),
});
export type LlmProxyConfig = ConfigOf<typeof llmProxyEnv>;
