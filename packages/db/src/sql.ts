import { RegattaError } from '@regatta/contracts';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** `name` double-quoted for SQL; only plain identifiers are accepted, so nothing needs escaping. */
export function quoteIdent(name: string, what = 'identifier'): string {
  if (!IDENTIFIER.test(name)) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `${what} "${name}" is not a plain SQL identifier (letters, digits and _, not starting with a digit, max 63)`,
    );
  }
  return `"${name}"`;
}

/** A table name, optionally schema-qualified (`audit.decisions`), quoted part by part. */
export function quoteTable(name: string): string {
  const parts = name.split('.');
  if (parts.length > 2)
    throw new RegattaError('INVALID_ARGUMENT', `table "${name}" has more than schema.table`);
  return parts.map((part) => quoteIdent(part, 'table')).join('.');
}
