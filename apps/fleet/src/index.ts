export * from './distributed.js';
export * from './embedded.js';
export * from './config-table.js';
