import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const require = createRequire(import.meta.url);
const nodeMajor = Number(process.versions.node.split('.')[0]);

/** Which better-sqlite3 this process uses: 13 on Node.js 22 and newer, 12 on Node.js 20. */
export const SQLITE_DRIVER = nodeMajor >= 22 ? 'better-sqlite3 13' : 'better-sqlite3 12';

/**
 * better-sqlite3 in the version that works on this Node.js. 13 is built on Node-API and needs Node.js 22;
 * on Node.js 20 it crashes, so 12 serves there. 12 wraps its objects in `node::ObjectWrap`, which since
 * Node.js 24.19 registers an environment cleanup hook per object: a statement collected after Node.js has
 * torn down its environment at exit then aborts the process (`Assertion failed: (env) != nullptr` in
 * `RemoveEnvironmentCleanupHook`). Both have the same API.
 */
export const SqliteDatabase = (
  nodeMajor >= 22 ? require('better-sqlite3-13') : require('better-sqlite3')
) as typeof BetterSqlite3;
