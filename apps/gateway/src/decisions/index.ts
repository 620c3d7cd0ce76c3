export * from './cost.js';
export * from './decision-log.js';
export * from './decisions.controller.js';
export * from './decisions.service.js';
export * from './flow.js';
export * from './policy.js';
