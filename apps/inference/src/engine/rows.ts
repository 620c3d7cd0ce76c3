import { RegattaError } from '@regatta/contracts';

/** Request rows: one flat row-major Float32Array, or one array of numbers per row. */
export type Rows = Float32Array | readonly (readonly number[])[];

/** What the rows are checked against. */
export interface RowShape {
  /** `name:version`, for messages. */
  model: string;
  cols: number;
  /** Column names, for messages. */
  features: readonly string[] | undefined;
  maxRows: number;
}

const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Validates request rows and packs them into a fresh Float32Array the batcher may own and transfer.
 * Every error is INVALID_ARGUMENT naming the offending row and column.
 */
export function packRows(rows: unknown, shape: RowShape): { data: Float32Array; rows: number } {
  if (rows instanceof Float32Array) return packFlat(rows, shape);
  if (!Array.isArray(rows)) {
    throw invalid(`rows must be an array of rows or a Float32Array, got ${typeName(rows)}`);
  }
  checkCount(rows.length, shape);
  const data = new Float32Array(rows.length * shape.cols);
  for (let r = 0; r < rows.length; r++) {
    const row: unknown = rows[r];
    if (!Array.isArray(row))
      throw invalid(`row ${r} must be an array of ${shape.cols} numbers, got ${typeName(row)}`);
    if (row.length !== shape.cols) {
      throw invalid(
        `row ${r} has ${row.length} values; model ${shape.model} expects ${shape.cols}${listFeatures(shape)}`,
      );
    }
    for (let c = 0; c < shape.cols; c++) {
      const value: unknown = row[c];
      if (typeof value !== 'number') {
        throw invalid(
          `row ${r} column ${column(c, shape)} is ${typeName(value)}; expected a finite number`,
          r,
          c,
        );
      }
      checkValue(value, r, c, shape);
      data[r * shape.cols + c] = value;
    }
  }
  return { data, rows: rows.length };
}

function packFlat(values: Float32Array, shape: RowShape): { data: Float32Array; rows: number } {
  if (values.length % shape.cols !== 0) {
    throw invalid(
      `rows holds ${values.length} values, which is not a whole number of rows of ${shape.cols} for model ${shape.model}`,
    );
  }
  const count = values.length / shape.cols;
  checkCount(count, shape);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) checkValue(v, Math.floor(i / shape.cols), i % shape.cols, shape);
  }
  // A copy: the caller keeps its array, and the batcher may transfer this one to a worker.
  return { data: values.slice(), rows: count };
}

function checkCount(count: number, shape: RowShape): void {
  if (count === 0) throw invalid('rows is empty; send at least one row');
  if (count > shape.maxRows) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `request has ${count} rows; model ${shape.model} takes at most ${shape.maxRows} rows per request`,
      { rows: count, max_batch_rows: shape.maxRows },
    );
  }
}

function checkValue(value: number, r: number, c: number, shape: RowShape): void {
  if (Number.isNaN(value))
    throw invalid(`row ${r} column ${column(c, shape)} is NaN; expected a finite number`, r, c);
  if (!Number.isFinite(value)) {
    throw invalid(`row ${r} column ${column(c, shape)} is ${value}; expected a finite number`, r, c);
  }
  if (Math.abs(value) > FLOAT32_MAX) {
    throw invalid(
      `row ${r} column ${column(c, shape)} is ${value}, outside the float32 range the model takes`,
      r,
      c,
    );
  }
}

function column(c: number, shape: RowShape): string {
  const name = shape.features?.[c];
  return name === undefined ? String(c) : `${c} (${name})`;
}

function listFeatures(shape: RowShape): string {
  return shape.features ? ` (${shape.features.join(', ')})` : '';
}

function typeName(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function invalid(message: string, row?: number, col?: number): RegattaError {
  return new RegattaError('INVALID_ARGUMENT', message, row === undefined ? undefined : { row, column: col });
}
