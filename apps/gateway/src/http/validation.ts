import { RegattaError } from '@regatta/contracts';
import { type ErrorObject } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { type FastifyInstance, type FastifyRequest } from 'fastify';

// ajv-formats is CommonJS: its ESM default import is `module.exports`, which carries the plugin as `.default`.
const addFormats = addFormatsModule.default;

const MESSAGE_LIMIT = 200;

function pathOf(dataVar: string, instancePath: string): string {
  const name = dataVar === 'querystring' ? 'query' : dataVar;
  return instancePath ? `${name}${instancePath.replaceAll('/', '.')}` : name;
}

/** One readable line for the first schema violation: `body.rows.0.amount: must be number`. */
export function describeSchemaError(errors: readonly ErrorObject[], dataVar: string): string {
  const last = errors.at(-1);
  if (!last) return `invalid ${dataVar}`;
  // With allErrors off, a failed union (zod unions and nullables) is reported last, after every branch's errors.
  if (last.keyword === 'anyOf' || last.keyword === 'oneOf') return describeUnion(errors, last, dataVar);
  return describeOne(errors[0]!, dataVar);
}

function describeOne(e: ErrorObject, dataVar: string): string {
  const where = pathOf(dataVar, e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${where}: unknown property "${String(p.additionalProperty)}"`;
    case 'required':
      return `${where}: missing required property "${String(p.missingProperty)}"`;
    case 'enum':
      return `${where}: must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${where}: ${e.message ?? 'is invalid'}`;
  }
}

/**
 * A union no branch of which matched. A branch the value has the right type for says what is wrong inside it
 * (`body.stop: must NOT have more than 4 items`); when the type matched none, the types are listed
 * (`body.stop: must be string, array or null`). The first branch's error alone would mislead.
 */
function describeUnion(errors: readonly ErrorObject[], union: ErrorObject, dataVar: string): string {
  const prefix = `${union.schemaPath}/`;
  const branches = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    if (!e.schemaPath.startsWith(prefix)) continue;
    const branch = e.schemaPath.slice(prefix.length).split('/')[0]!;
    branches.set(branch, [...(branches.get(branch) ?? []), e]);
  }
  const wrongType = (list: ErrorObject[]) =>
    list.length === 1 && list[0]!.keyword === 'type' && list[0]!.instancePath === union.instancePath;
  const closest = [...branches.values()].find((list) => !wrongType(list));
  if (closest) return describeSchemaError(closest, dataVar);
  const types = [...branches.values()].flatMap((list) => String(list[0]!.params.type).split(','));
  if (types.length === 0) return describeOne(union, dataVar);
  const unique = [...new Set(types)];
  const listed = unique.length === 1 ? unique[0] : `${unique.slice(0, -1).join(', ')} or ${unique.at(-1)}`;
  return `${pathOf(dataVar, union.instancePath)}: must be ${listed}`;
}

function newAjv(coerce: boolean): Ajv2020 {
  const ajv = new Ajv2020({
    // Bodies are JSON and must already have the right types; query strings and path parameters
    // are text, so numbers and booleans there are converted.
    coerceTypes: coerce ? 'array' : false,
    useDefaults: true,
    // Fastify's default removes unknown properties silently; a contract rejects them instead.
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

/**
 * Request validation and parsing of the gateway: JSON bodies only (anything else is 415),
 * bodies and parameters checked with ajv against the routes' JSON Schemas, errors phrased for
 * the caller, malformed JSON a 400 that says where it broke.
 */
export function installValidation(fastify: FastifyInstance): void {
  const bodyAjv = newAjv(false);
  const paramAjv = newAjv(true);
  fastify.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : paramAjv).compile(schema),
  );
  fastify.setSchemaErrorFormatter(
    (errors, dataVar) => new RegattaError('INVALID_ARGUMENT', describeSchemaError(errors, dataVar)),
  );

  const secureJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.length === 0) {
        done(new RegattaError('INVALID_ARGUMENT', 'request body is empty: send a JSON document'));
        return;
      }
      void secureJson(req, text, (err: Error | null, value?: unknown) => {
        if (err) return done(new RegattaError('INVALID_ARGUMENT', jsonProblem(text)));
        const outOfRange = MAYBE_OUT_OF_RANGE.test(text) ? nonFinitePath(value) : undefined;
        if (outOfRange !== undefined) {
          const where =
            outOfRange.length > MESSAGE_LIMIT
              ? `${outOfRange.slice(0, outOfRange.lastIndexOf('.', MESSAGE_LIMIT))}…`
              : outOfRange;
          const message = `${where}: number is outside the range JSON numbers can carry (about ±1.8e308)`;
          return done(new RegattaError('INVALID_ARGUMENT', message));
        }
        done(null, value);
      });
    },
  );
}

/**
 * Text that may hold a number beyond float64's range: an exponent of three digits or more, or a run of 309
 * digits. Only then is the parsed body walked; strings that match cost one walk and nothing else.
 */
const MAYBE_OUT_OF_RANGE = /[eE]\+?\d{3}|\d{309}/;

/**
 * Where a parsed body holds ±Infinity (`body.context.amount`), which `JSON.parse` makes of a number like
 * 1e400. Such a value would reach a service as `null` (JSON cannot write it), so it is refused here, by
 * name. Iterative, so a deeply nested body cannot exhaust the stack.
 */
export function nonFinitePath(value: unknown, root = 'body'): string | undefined {
  const pending: [unknown, string][] = [[value, root]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, path] = next;
    if (typeof item === 'number') {
      if (!Number.isFinite(item)) return path;
    } else if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) pending.push([item[i], `${path}.${i}`]);
    } else if (typeof item === 'object' && item !== null) {
      const entries = Object.entries(item);
      for (let i = entries.length - 1; i >= 0; i--)
        pending.push([entries[i]![1], `${path}.${entries[i]![0]}`]);
    }
  }
  return undefined;
}

/** Why a body is not acceptable JSON, for the error message. */
function jsonProblem(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return `request body is not valid JSON: ${why.slice(0, MESSAGE_LIMIT)}`;
  }
  // It parses, so the secure parser refused a key that could poison prototypes.
  return 'request body is not acceptable JSON: "__proto__" and "constructor.prototype" keys are refused';
}
