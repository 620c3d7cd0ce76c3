import { commonEnv, databaseEnv, defineEnv, env, redisEnv, type ConfigOf } from '@regatta/config';

/** Environment of the gateway. */
export const gatewayEnv = defineEnv({
  ...commonEnv,
  ...redisEnv,
  ...databaseEnv,
  PORT: { schema: env.port(8080), doc: 'public HTTP port' },
  HOST: { schema: env.string('0.0.0.0'), doc: 'interface the HTTP server binds' },
  METRICS_TOKEN: {
    schema: env.optionalString(),
    doc: 'when set, GET /metrics on the public port requires `Authorization: Bearer <token>`',
  },
  BODY_LIMIT_BYTES: { schema: env.int(1_048_576, 1_024), doc: 'largest request body accepted (413 above)' },
});
export type GatewayConfig = ConfigOf<typeof gatewayEnv>;
