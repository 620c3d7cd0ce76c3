import { z } from 'zod';
import { contract } from './contract.js';

export const MAX_ENTITY_ROWS = 1000;
export const MAX_FEATURE_REFS = 1000;
/** Most values (entity rows x features) one features.get.v1 reply carries, so it fits in one NATS message. */
export const MAX_FEATURE_VALUES = 10_000;

/** Feast's FieldStatus names. */
export const FieldStatus = z.enum(['INVALID', 'PRESENT', 'NULL_VALUE', 'NOT_FOUND', 'OUTSIDE_MAX_AGE']);
export type FieldStatus = z.infer<typeof FieldStatus>;

const EntityValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
type EntityValue = z.infer<typeof EntityValue>;

/** The request's full schema: its documentation, and the parse of anything the one-pass check below does not accept. */
const GetFeaturesRequestSchema = z
  .object({
    features: z.array(z.string().min(1)).min(1).max(MAX_FEATURE_REFS).optional(),
    feature_service: z.string().min(1).optional(),
    entities: z.record(z.string(), z.array(EntityValue).min(1).max(MAX_ENTITY_ROWS)),
    full_feature_names: z.boolean().default(false),
  })
  .strict()
  .refine((r) => (r.features === undefined) !== (r.feature_service === undefined), {
    message: 'give exactly one of features or feature_service',
  })
  .refine((r) => new Set(Object.values(r.entities).map((v) => v.length)).size <= 1, {
    message: 'every entity column must have the same number of rows',
  })
  .refine((r) => Object.keys(r.entities).length > 0, { message: 'entities must name at least one join key' });
type ParsedGetFeaturesRequest = z.output<typeof GetFeaturesRequestSchema>;

/**
 * Feast's get-online-features request: feature refs (`view:feature`) or a feature service, and
 * column-major entity values (`{customer_id: ["c1", "c2"]}`); keys that are not join keys are request data.
 * A well-formed request (plain JSON, as every message body is) is checked in one pass; anything else goes
 * through the full schema, so errors and results are the full schema's. Documented as the full schema.
 */
export const GetFeaturesRequest = z
  .custom<z.input<typeof GetFeaturesRequestSchema>>()
  .meta(documentedAs(GetFeaturesRequestSchema))
  .transform((value, ctx): ParsedGetFeaturesRequest => {
    const quick = wellFormedRequest(value);
    if (quick) return quick;
    const result = GetFeaturesRequestSchema.safeParse(value);
    if (result.success) return result.data;
    // Same paths and messages as the full schema's issues (what error replies carry).
    for (const { message, path, input } of result.error.issues)
      ctx.issues.push({ code: 'custom', message, path, input });
    return z.NEVER;
  });
export type GetFeaturesRequest = z.input<typeof GetFeaturesRequest>;

/** JSON Schema (input side) of `schema`, as metadata for a schema that validates the same values another way. */
function documentedAs(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  return json;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  // Only own, enumerable string keys: what JSON.parse makes and what a one-pass check can read.
  return (
    (proto === Object.prototype || proto === null) && Reflect.ownKeys(v).length === Object.keys(v).length
  );
}

function isEntityValue(v: unknown): v is EntityValue {
  return (
    typeof v === 'string' ||
    v === null ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v))
  );
}

function isEntityColumn(v: unknown): v is EntityValue[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > MAX_ENTITY_ROWS) return false;
  for (let i = 0; i < v.length; i++) if (!isEntityValue(v[i])) return false;
  return true;
}

function isFeatureRefs(v: unknown): v is string[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > MAX_FEATURE_REFS) return false;
  for (let i = 0; i < v.length; i++) {
    const ref: unknown = v[i];
    if (typeof ref !== 'string' || ref.length === 0) return false;
  }
  return true;
}

/**
 * The parsed request when `value` is a valid request in plain JSON form, else undefined (it may still be valid:
 * the full schema decides). Accepts nothing the full schema rejects, and returns what it would.
 */
function wellFormedRequest(value: unknown): ParsedGetFeaturesRequest | undefined {
  if (!isPlainObject(value)) return undefined;
  for (const key of Object.keys(value)) {
    if (key !== 'features' && key !== 'feature_service' && key !== 'entities' && key !== 'full_feature_names')
      return undefined;
    if (value[key] === undefined) return undefined;
  }
  const { features, feature_service: service, entities, full_feature_names: fullNames } = value;
  if (features !== undefined && !isFeatureRefs(features)) return undefined;
  if (service !== undefined && (typeof service !== 'string' || service.length === 0)) return undefined;
  if ((features === undefined) === (service === undefined)) return undefined;
  if (fullNames !== undefined && typeof fullNames !== 'boolean') return undefined;
  if (!isPlainObject(entities)) return undefined;
  const columns: Record<string, EntityValue[]> = {};
  let rows = -1;
  let count = 0;
  for (const name of Object.keys(entities)) {
    const column = entities[name];
    if (name === '__proto__' || !isEntityColumn(column)) return undefined;
    if (rows >= 0 && column.length !== rows) return undefined;
    rows = column.length;
    columns[name] = column;
    count++;
  }
  if (count === 0) return undefined;
  return {
    ...(features !== undefined && { features }),
    ...(service !== undefined && { feature_service: service }),
    entities: columns,
    full_feature_names: fullNames ?? false,
  };
}

/** One column: a value, status and event time (RFC 3339) per entity row. */
export const FeatureColumn = z.object({
  values: z.array(z.unknown()),
  statuses: z.array(FieldStatus),
  event_timestamps: z.array(z.string()),
});

/** The reply's full schema: its documentation, and the parse of anything the one-pass check below does not accept. */
const GetFeaturesReplySchema = z.object({
  metadata: z.object({ feature_names: z.array(z.string()) }),
  results: z.array(FeatureColumn),
});

/**
 * Feast's column-major response: `results[i]` belongs to `metadata.feature_names[i]`; join keys first.
 * A reply carries up to 10,000 values, statuses and timestamps: in plain JSON form it is checked in one pass
 * and returned as is; anything else goes through the full schema (same issues, same result). Documented as
 * the full schema.
 */
export const GetFeaturesReply = z
  .custom<z.output<typeof GetFeaturesReplySchema>>()
  .meta(documentedAs(GetFeaturesReplySchema, 'output'))
  .check((ctx) => {
    if (isPlainReply(ctx.value)) return;
    const result = GetFeaturesReplySchema.safeParse(ctx.value);
    if (result.success) parsedReplies.set(ctx.value, result.data);
    else
      for (const { message, path, input } of result.error.issues)
        ctx.issues.push({ code: 'custom', message, path, input });
  })
  .overwrite((value) => parsedReplies.get(value) ?? value);
export type GetFeaturesReply = z.infer<typeof GetFeaturesReply>;

/** Results of the full schema for valid replies the one-pass check left to it (they may differ, e.g. drop keys). */
const parsedReplies = new WeakMap<object, GetFeaturesReply>();

const STATUSES: ReadonlySet<unknown> = new Set(FieldStatus.options);
const isString = (v: unknown) => typeof v === 'string';
const isStatus = (v: unknown) => STATUSES.has(v);

/** A plain object (as JSON.parse makes them) with exactly `count` keys. */
function isJsonObject(v: unknown, count: number): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return false;
  let keys = 0;
  for (const _ in v) keys++;
  return keys === count;
}

function isListOf(v: unknown, isItem: (item: unknown) => boolean): boolean {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (!isItem(v[i])) return false;
  return true;
}

function isPlainColumn(v: unknown): boolean {
  return (
    isJsonObject(v, 3) &&
    Object.hasOwn(v, 'values') &&
    Array.isArray(v.values) &&
    Object.hasOwn(v, 'statuses') &&
    isListOf(v.statuses, isStatus) &&
    Object.hasOwn(v, 'event_timestamps') &&
    isListOf(v.event_timestamps, isString)
  );
}

/** Whether `v` is a valid reply as JSON.parse makes it, which the full schema would return unchanged. */
function isPlainReply(v: unknown): boolean {
  if (!isJsonObject(v, 2) || !Object.hasOwn(v, 'metadata') || !Object.hasOwn(v, 'results')) return false;
  const { metadata, results } = v;
  return (
    isJsonObject(metadata, 1) &&
    Object.hasOwn(metadata, 'feature_names') &&
    isListOf(metadata.feature_names, isString) &&
    isListOf(results, isPlainColumn)
  );
}

export const FEATURES = {
  get: contract({ subject: 'features.get.v1', request: GetFeaturesRequest, reply: GetFeaturesReply }),
} as const;
