export * from './health.js';
export * from './metrics-server.js';
export * from './process.js';
export * from './service.js';
export * from './health.controller.js';
export * from './slo.controller.js';
