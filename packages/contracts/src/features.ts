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

/**
 * Feast's get-online-features request: feature refs (`view:feature`) or a feature service, and
 * column-major entity values (`{customer_id: ["c1", "c2"]}`); keys that are not join keys are request data.
 */
export const GetFeaturesRequest = z
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
export type GetFeaturesRequest = z.input<typeof GetFeaturesRequest>;

/** One column: a value, status and event time (RFC 3339) per entity row. */
export const FeatureColumn = z.object({
  values: z.array(z.unknown()),
  statuses: z.array(FieldStatus),
  event_timestamps: z.array(z.string()),
});

/** Feast's column-major response: `results[i]` belongs to `metadata.feature_names[i]`; join keys first. */
export const GetFeaturesReply = z.object({
  metadata: z.object({ feature_names: z.array(z.string()) }),
  results: z.array(FeatureColumn),
});
export type GetFeaturesReply = z.infer<typeof GetFeaturesReply>;

export const FEATURES = {
  get: contract({ subject: 'features.get.v1', request: GetFeaturesRequest, reply: GetFeaturesReply }),
} as const;
