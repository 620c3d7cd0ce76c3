export * from './config.js';
export * from './model-catalog.js';
export * from './prediction.service.js';
export * from './service.js';
