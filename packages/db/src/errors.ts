import { RegattaError } from '@regatta/contracts';

// Node socket errors that mean "the database cannot be reached right now".
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// SQLSTATEs (outside class 08, connection exception) that are transient server-side conditions.
const TRANSIENT_SQLSTATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovery)
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
]);

// Errors pg and pg-pool raise without a code, recognised by their text.
const CLIENT_MESSAGES: readonly [RegExp, (message: string) => RegattaError][] = [
  [
    /timeout exceeded when trying to connect/i,
    () => new RegattaError('UNAVAILABLE', 'database pool exhausted'),
  ],
  [/connection timeout/i, () => new RegattaError('UNAVAILABLE', 'database connection timed out')],
  [/Query read timeout/i, () => new RegattaError('DEADLINE_EXCEEDED', 'database query timed out (no reply)')],
  [/Connection terminated|not queryable|Client was closed|connection error/i, (m) => unavailable(m)],
  [
    /Cannot use a pool after calling end|PGlite is closed/i,
    () => new RegattaError('UNAVAILABLE', 'database client is closed'),
  ],
];

function unavailable(reason: string, details?: Record<string, unknown>): RegattaError {
  return new RegattaError('UNAVAILABLE', `database unavailable: ${reason}`, details);
}

function field(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

/** The error code of `err`, looking inside an AggregateError (Node tries IPv4 and IPv6 and reports both). */
function errorCode(err: unknown): string | undefined {
  const code = field(err, 'code');
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const innerCode = errorCode(inner);
      if (innerCode) return innerCode;
    }
  }
  return undefined;
}

/**
 * Any error from pg, pg-pool or PGlite as a RegattaError: unreachable or overloaded database ->
 * UNAVAILABLE, statement timeout -> DEADLINE_EXCEEDED, unique violation -> CONFLICT, other bad
 * data (SQLSTATE classes 22 and 23) -> INVALID_ARGUMENT, anything else -> INTERNAL. The SQLSTATE
 * travels in `details.sqlstate`.
 */
export function toDbError(err: unknown): RegattaError {
  if (err instanceof RegattaError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = errorCode(err);

  if (code && NETWORK_CODES.has(code)) return unavailable(code, { cause: code });
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    const details = { sqlstate: code };
    if (code.startsWith('08') || code.startsWith('53') || TRANSIENT_SQLSTATES.has(code)) {
      return unavailable(`${message} (${code})`, details);
    }
    if (code === '57014')
      return new RegattaError('DEADLINE_EXCEEDED', `database statement timed out: ${message}`, details);
    if (code === '23505')
      return new RegattaError('CONFLICT', `database unique violation: ${message}`, details);
    if (code.startsWith('22') || code.startsWith('23')) {
      return new RegattaError(
        'INVALID_ARGUMENT',
        `database rejected the data: ${message} (${code})`,
        details,
      );
    }
    return new RegattaError('INTERNAL', `database error: ${message} (${code})`, details);
  }
  for (const [pattern, make] of CLIENT_MESSAGES) if (pattern.test(message)) return make(message);
  return new RegattaError('INTERNAL', `database error: ${message}`);
}

/** Whether retrying the same statement later may succeed (the database was down, busy or slow). */
export function isTransientDbError(err: RegattaError): boolean {
  return err.code === 'UNAVAILABLE' || err.code === 'DEADLINE_EXCEEDED';
}

/** Whether the database refused the rows themselves (bad value, constraint), so a retry cannot help. */
export function isDataError(err: RegattaError): boolean {
  const sqlstate = err.details?.sqlstate;
  return typeof sqlstate === 'string' && (sqlstate.startsWith('22') || sqlstate.startsWith('23'));
}
