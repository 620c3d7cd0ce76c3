export * from './services.js';
export * from './tcp-fault-proxy.js';
