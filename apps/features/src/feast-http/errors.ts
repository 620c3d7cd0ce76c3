import { HTTP_STATUS, RegattaError } from '@regatta/contracts';
import { type z } from 'zod';

/** One entry of a FastAPI / pydantic 422 body (`{"detail": [...]}`), which Feast's server answers bad bodies with. */
export interface ValidationDetail {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

/** A body that did not parse or did not match its schema: answered 422 with FastAPI's shape. */
export class InvalidBody extends Error {
  constructor(readonly detail: ValidationDetail[]) {
    super(detail.map((d) => `${d.loc.join('.')}: ${d.msg}`).join('; '));
  }
}

const TYPE_NAMES: Record<string, [type: string, msg: string]> = {
  string: ['string_type', 'Input should be a valid string'],
  array: ['list_type', 'Input should be a valid list'],
  object: ['dict_type', 'Input should be a valid dictionary'],
  record: ['dict_type', 'Input should be a valid dictionary'],
  boolean: ['bool_type', 'Input should be a valid boolean'],
  number: ['float_type', 'Input should be a valid number'],
};

function at(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function quoteList(values: readonly unknown[]): string {
  const quoted = values.map((v) => `'${String(v)}'`);
  return quoted.length <= 1 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
}

/** The 422 details of a zod failure, in pydantic's words, each naming the field (`loc`) and what was wrong. */
export function validationDetails(error: z.ZodError, body: unknown): ValidationDetail[] {
  return error.issues.map((issue): ValidationDetail => {
    const path = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
    const loc: (string | number)[] = ['body', ...path];
    const input = at(body, path);
    if (issue.code === 'invalid_type') {
      if (input === undefined)
        return {
          type: 'missing',
          loc,
          msg: 'Field required',
          input: path.length ? at(body, path.slice(0, -1)) : null,
        };
      if (path.length === 0)
        return {
          type: 'model_attributes_type',
          loc,
          msg: 'Input should be a valid dictionary or object to extract fields from',
          input,
        };
      const [type, msg] = TYPE_NAMES[issue.expected] ?? ['value_error', issue.message];
      return { type, loc, msg, input };
    }
    if (issue.code === 'invalid_value') {
      const expected = quoteList(issue.values);
      return { type: 'literal_error', loc, msg: `Input should be ${expected}`, input, ctx: { expected } };
    }
    if (issue.code === 'custom')
      return { type: 'value_error', loc, msg: `Value error, ${issue.message}`, input };
    return { type: 'value_error', loc, msg: issue.message, input };
  });
}

/** Parses a JSON body and checks it against `schema`; InvalidBody (422) naming the problem otherwise. */
export function parseBody<S extends z.ZodType>(raw: unknown, schema: S): z.infer<S> {
  let body: unknown;
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : '';
  if (text === '')
    throw new InvalidBody([{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
  try {
    body = JSON.parse(text);
  } catch (err) {
    const reason = (err as Error).message;
    const position = /position (\d+)/.exec(reason);
    throw new InvalidBody([
      {
        type: 'json_invalid',
        // Where parsing stopped, as FastAPI reports it; a truncated body stops at its end.
        loc: ['body', position ? Number(position[1]) : text.length],
        msg: 'JSON decode error',
        input: {},
        ctx: { error: reason },
      },
    ]);
  }
  const result = schema.safeParse(body);
  if (!result.success) throw new InvalidBody(validationDetails(result.error, body));
  return result.data;
}

/** Python's `json.dumps` of a flat string dict (`, ` and `: ` separators, non-ASCII escaped). */
function pythonJsonDumps(fields: Record<string, string>): string {
  const str = (s: string) =>
    JSON.stringify(s).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  return `{${Object.entries(fields)
    .map(([k, v]) => `${str(k)}: ${str(v)}`)
    .join(', ')}}`;
}

/** The Feast exception class a typed error corresponds to, so Feast's clients re-raise the same kind. */
export function feastErrorClass(err: RegattaError): string {
  if (err.code !== 'NOT_FOUND') return 'FeastError';
  const details = err.details ?? {};
  if ('feature_service' in details) return 'FeatureServiceNotFoundException';
  if ('push_source' in details) return 'PushSourceNotFoundException';
  if ('feature' in details) return 'FeastObjectNotFoundException';
  if ('feature_view' in details) return 'FeatureViewNotFoundException';
  return 'FeastObjectNotFoundException';
}

/**
 * Status and body of a failed Feast route. Feast's server answers a FeastError with its HTTP status and, as
 * the body, the JSON string of `{"module", "class", "message"}` (from which its Python client rebuilds the
 * exception); Regatta's error codes choose the status (404 unknown names, 400 bad values, 503 store down).
 */
export function feastErrorResponse(err: RegattaError): { status: number; body: string } {
  const detail = pythonJsonDumps({
    module: 'feast.errors',
    class: feastErrorClass(err),
    message: err.message,
  });
  return { status: HTTP_STATUS[err.code], body: JSON.stringify(detail) };
}
