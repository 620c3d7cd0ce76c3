export * from './contract.js';
export * from './errors.js';
export * from './headers.js';
export * from './health.js';
export * from './json-schema.js';
export * from './validation.js';
export * from './inference.js';
export * from './features.js';
