import { describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { isDataError, isTransientDbError, toDbError } from './errors.js';
import { pgError } from './testing/fake-sql-client.js';

describe('toDbError', () => {
  it.each([
    ['a refused connection', pgError('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'), 'UNAVAILABLE'],
    ['a dropped connection', pgError('Connection terminated unexpectedly'), 'UNAVAILABLE'],
    [
      'a server shutting down',
      pgError('terminating connection due to administrator command', '57P01'),
      'UNAVAILABLE',
    ],
    ['too many connections', pgError('sorry, too many clients already', '53300'), 'UNAVAILABLE'],
    ['a pool with no free connection', pgError('timeout exceeded when trying to connect'), 'UNAVAILABLE'],
    [
      'a statement timeout',
      pgError('canceling statement due to statement timeout', '57014'),
      'DEADLINE_EXCEEDED',
    ],
    ['a query that got no reply', pgError('Query read timeout'), 'DEADLINE_EXCEEDED'],
    ['a unique violation', pgError('duplicate key value violates unique constraint', '23505'), 'CONFLICT'],
    ['a not-null violation', pgError('null value in column "v"', '23502'), 'INVALID_ARGUMENT'],
    ['a bad value', pgError('invalid input syntax for type integer', '22P02'), 'INVALID_ARGUMENT'],
    ['a missing table', pgError('relation "x" does not exist', '42P01'), 'INTERNAL'],
  ])('maps %s to %s', (_what, err, code) => {
    expect(toDbError(err).code).toBe(code);
  });

  it('finds the socket code inside an AggregateError from dual-stack connection attempts', () => {
    const err = new AggregateError([pgError('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], '');
    expect(toDbError(err)).toMatchObject({ code: 'UNAVAILABLE', details: { cause: 'ECONNREFUSED' } });
  });

  it('keeps the SQLSTATE in details and passes RegattaErrors through unchanged', () => {
    expect(toDbError(pgError('syntax error', '42601')).details).toEqual({ sqlstate: '42601' });
    const original = new RegattaError('OVERLOADED', 'busy');
    expect(toDbError(original)).toBe(original);
  });
});

describe('isDataError', () => {
  it('is true only for errors about the rows themselves', () => {
    expect(isDataError(toDbError(pgError('null value', '23502')))).toBe(true);
    expect(isDataError(toDbError(pgError('duplicate', '23505')))).toBe(true);
    expect(isDataError(toDbError(pgError('missing table', '42P01')))).toBe(false);
    expect(isDataError(toDbError(pgError('refused', 'ECONNREFUSED')))).toBe(false);
  });
});

describe('isTransientDbError', () => {
  it('is true for unreachable and timed-out databases', () => {
    expect(isTransientDbError(toDbError(pgError('refused', 'ECONNREFUSED')))).toBe(true);
    expect(isTransientDbError(toDbError(pgError('timeout', '57014')))).toBe(true);
    expect(isTransientDbError(toDbError(pgError('null value', '23502')))).toBe(false);
  });
});
