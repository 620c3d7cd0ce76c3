export * from './compose.js';
export * from './environment.js';
export * from './hcl-layout.js';
export * from './ini.js';
export * from './kustomize.js';
export * from './repo.js';
