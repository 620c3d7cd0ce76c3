import { AsyncLocalStorage } from 'node:async_hooks';

/** What travels with one request through every hop: its deadline and identity. */
export interface RequestScope {
  /** Absolute deadline, epoch milliseconds. */
  deadline: number;
  requestId?: string | undefined;
  tenant?: string | undefined;
}

const storage = new AsyncLocalStorage<RequestScope>();

/** Runs `fn` with `scope` as the current request scope (deadline, request id, tenant). */
export function runWithScope<T>(scope: RequestScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** The current request scope, if code runs on behalf of a request. */
export function currentScope(): RequestScope | undefined {
  return storage.getStore();
}

/** Milliseconds left before the current request's deadline (Infinity outside a request). */
export function remainingMs(now = Date.now()): number {
  const scope = storage.getStore();
  return scope ? scope.deadline - now : Number.POSITIVE_INFINITY;
}
