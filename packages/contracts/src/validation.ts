import { type z } from 'zod';
import { RegattaError } from './errors.js';

/** Readable one-line summary of zod issues: `rows.0.amount: expected number, received string`. */
export function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Parses `value` with `schema` or throws INVALID_ARGUMENT naming what was wrong. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what = 'request'): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new RegattaError('INVALID_ARGUMENT', `invalid ${what}: ${describeIssues(result.error)}`);
}
