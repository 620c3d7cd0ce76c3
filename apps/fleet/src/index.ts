export * from './distributed.js';
export * from './embedded.js';
