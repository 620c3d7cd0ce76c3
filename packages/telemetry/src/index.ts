export * from './logger.js';
export * from './fast-counter.js';
export * from './fast-histogram.js';
export * from './metrics.js';
export * from './profiling.js';
export * from './tracing.js';
export type { Counter, Gauge, Histogram, Registry } from 'prom-client';
export * from './exposition.js';
