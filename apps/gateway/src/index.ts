export * from './config.js';
export * from './edge/index.js';
export * from './auth/key-store.js';
export * from './service.js';
