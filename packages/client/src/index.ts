export * from './client.js';
export * from './errors.js';
export * from './sse.js';
export type * from './types.js';
