import { createHash } from 'node:crypto';
import { invalidArgument } from '@regatta/contracts';

/** One input row of a model: features by position, or by name. */
export type FeatureRow = readonly number[] | Readonly<Record<string, number>>;

/** The model a prediction belongs to; a new version never reads the cached predictions of an old one. */
export interface ModelRef {
  name: string;
  version: string;
}

/**
 * The row as one canonical string: object keys sorted, -0 written as 0, so rows that mean the same input
 * give the same text. NaN (and anything that is not a number) is rejected with INVALID_ARGUMENT, because
 * NaN never equals itself and would make every such row a distinct, useless cache entry.
 */
export function canonicalRow(row: unknown, index = 0): string {
  if (Array.isArray(row)) {
    const values: unknown[] = row;
    // Array.from visits holes of a sparse array (as undefined), which map() would skip.
    return `[${Array.from(values, (value, i) => canonicalNumber(value, index, String(i))).join(',')}]`;
  }
  if (row !== null && typeof row === 'object') {
    const record = row as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalNumber(record[key], index, key)}`).join(',')}}`;
  }
  throw invalidArgument(
    `rows[${index}] must be an array of numbers or an object of numbers, got ${describe(row)}`,
    {
      row: index,
    },
  );
}

/** The cache key of one row's prediction: model name and version, then a sha256 of the canonical row. */
export function featureKey(model: ModelRef, row: unknown, index = 0): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([model.name, model.version]))
    .update('\n')
    .update(canonicalRow(row, index))
    .digest('base64url');
  // The readable model part lets an operator find or drop one model's entries with a key pattern.
  return `${model.name}@${model.version}:${digest}`;
}

function canonicalNumber(value: unknown, row: number, feature: string): string {
  if (typeof value !== 'number') {
    throw invalidArgument(`rows[${row}] feature '${feature}' must be a number, got ${describe(value)}`, {
      row,
      feature,
    });
  }
  if (Number.isNaN(value)) {
    throw invalidArgument(`rows[${row}] feature '${feature}' is NaN`, { row, feature });
  }
  // String() already prints 1.0 as "1" and -0 as "0"; the explicit zero case keeps that true by intent.
  return value === 0 ? '0' : String(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
