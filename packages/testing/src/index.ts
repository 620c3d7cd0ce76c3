export * from './services.js';
export * from './tcp-fault-proxy.js';
export * from './private-server.js';
export * from './prng.js';
