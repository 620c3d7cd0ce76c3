export * from './common.js';
export * from './config.js';
export * from './types.js';
