// The embedded ledger database (PGlite: Postgres compiled to WASM) on a thread of its own. PGlite runs
// every statement synchronously on the thread that calls it, so on the service's main thread each batch
// of ledger rows stalled every request in flight; here it stalls nobody. Plain JavaScript so the same
// file runs from src/ (jest) and dist/ (copied by the build); the messages are typed in worker-db.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { openPglite } from '@regatta/db';

const port = parentPort;
if (!port) throw new Error('pglite-worker.mjs must run in a worker thread');

/** What a rollback rejects the transaction's body with, so PGlite rolls it back. */
const ROLLBACK = Symbol('rollback');

/** Open transactions by id: the executor and how to end them. */
const transactions = new Map();

/** A thrown value as the wire form of a RegattaError (openPglite's errors already are RegattaErrors). */
function wire(err) {
  if (err && typeof err.toWire === 'function') return err.toWire();
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

function answer(id, run) {
  run.then(
    (result) => port.postMessage({ id, ok: true, result }),
    (err) => port.postMessage({ id, ok: false, error: wire(err) }),
  );
}

let db;
try {
  db = await openPglite({ dataDir: workerData.dataDir });
  port.postMessage({ id: 0, ok: true, result: null });
} catch (err) {
  port.postMessage({ id: 0, ok: false, error: wire(err) });
  port.close();
}

/** The executor a message addresses: an open transaction, or the database. */
function target(msg) {
  if (msg.tx === undefined) return db;
  const open = transactions.get(msg.tx);
  if (!open) throw new Error(`no open transaction ${msg.tx}`);
  return open.tx;
}

port.on('message', (msg) => {
  switch (msg.op) {
    case 'query':
      answer(
        msg.id,
        Promise.resolve().then(() => target(msg).query(msg.sql, msg.params)),
      );
      break;
    case 'exec':
      answer(
        msg.id,
        Promise.resolve().then(() => target(msg).exec(msg.sql)),
      );
      break;
    case 'begin': {
      // The transaction stays open until `commit` or `rollback` names it; its outcome answers that message.
      const open = { tx: undefined, end: undefined, endId: undefined };
      const done = db.transaction(
        (tx) =>
          new Promise((resolve, reject) => {
            open.tx = tx;
            open.end = { resolve, reject };
            transactions.set(msg.id, open);
            port.postMessage({ id: msg.id, ok: true, result: msg.id });
          }),
      );
      done.then(
        () => port.postMessage({ id: open.endId, ok: true, result: null }),
        (err) => {
          if (open.endId === undefined) port.postMessage({ id: msg.id, ok: false, error: wire(err) });
          else if (err === ROLLBACK) port.postMessage({ id: open.endId, ok: true, result: null });
          else port.postMessage({ id: open.endId, ok: false, error: wire(err) });
        },
      );
      break;
    }
    case 'commit':
    case 'rollback': {
      const open = transactions.get(msg.tx);
      if (!open) {
        port.postMessage({ id: msg.id, ok: false, error: wire(new Error(`no open transaction ${msg.tx}`)) });
        break;
      }
      transactions.delete(msg.tx);
      open.endId = msg.id;
      if (msg.op === 'commit') open.end.resolve();
      else open.end.reject(ROLLBACK);
      break;
    }
    case 'health':
      answer(msg.id, db.health());
      break;
    case 'close':
      db.close().then(
        () => port.postMessage({ id: msg.id, ok: true, result: null }),
        (err) => port.postMessage({ id: msg.id, ok: false, error: wire(err) }),
      );
      break;
    default:
      port.postMessage({ id: msg.id, ok: false, error: wire(new Error(`unknown operation ${msg.op}`)) });
  }
});
