export * from './background-schema.js';
export * from './client.js';
export * from './errors.js';
export * from './migrations.js';
export * from './pglite.js';
export * from './postgres.js';
export { quoteIdent, quoteTable } from './sql.js';
export * from './write-behind.js';
export * from './spooled-writer.js';
