import { commonEnv, defineEnv, env, metricsEnv, redisEnv, type ConfigOf } from '@regatta/config';

/** Environment of the features service. */
export const featuresEnv = defineEnv({
  ...commonEnv,
  ...redisEnv,
  ...metricsEnv(9102),
  FEAST_REPO_PATH: {
    schema: env.string('apps/features/feature_repo'),
    doc: 'Feast feature repository (feature_store.yaml)',
  },
  FEAST_REGISTRY_PATH: {
    schema: env.optionalString(),
    doc: 'registry.db; default: the path in feature_store.yaml',
  },
  FEAST_HTTP_PORT: { schema: env.port(6566), doc: 'port of the Feast-compatible HTTP API (0 = off)' },
});
export type FeaturesConfig = ConfigOf<typeof featuresEnv>;
