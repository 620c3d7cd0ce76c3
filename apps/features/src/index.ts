export * from './config.js';
export * from './features.service.js';
export * from './metrics.js';
export * from './online-store.js';
export * from './service.js';
export {
  type FeastHealthBody,
  type FeastHttpServer,
  type FeastHttpServerOptions,
  buildFeastHttpApp,
  feastHealth,
  startFeastHttpServer,
} from './feast-http/server.js';
export { type ValidationDetail, feastErrorResponse } from './feast-http/errors.js';
