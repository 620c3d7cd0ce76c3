export * from './bus.js';
export * from './client.js';
export * from './in-process-bus.js';
export * from './nats-bus.js';
export * from './scope.js';
export * from './server.js';
export * from './wire.js';
