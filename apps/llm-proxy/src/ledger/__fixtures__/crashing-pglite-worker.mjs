// The ledger's database thread, except that the statement `SELECT 'crash'` ends the thread at once, as a
// fatal error inside PGlite would. Tests use it to check that a dead thread is replaced.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', (msg) => {
  if (msg.sql === "SELECT 'crash'") process.exit(1);
});
await import('../pglite-worker.mjs');
