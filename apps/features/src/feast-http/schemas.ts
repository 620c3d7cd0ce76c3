import { type GetOnlineFeaturesRequest, PushRequest, WriteToOnlineStoreRequest } from '@regatta/feast';
import { z } from 'zod';

// Bodies of Feast's feature server routes, as lenient as its pydantic models: unknown fields are ignored and
// optional fields may be null. (features.get.v1 over NATS is stricter: its contract rejects unknown fields.)

/** `POST /get-online-features`: feature refs or a feature service (which wins when both are given, as in Feast). */
export const FeastGetOnlineFeaturesBody = z
  .object({
    entities: z.record(z.string(), z.array(z.unknown())),
    feature_service: z.string().nullish(),
    features: z.array(z.string()).nullish(),
    full_feature_names: z.boolean().nullish(),
  })
  .refine((b) => (b.feature_service ?? undefined) !== undefined || (b.features ?? undefined) !== undefined, {
    message: 'give features (view:feature refs) or feature_service',
  });
export type FeastGetOnlineFeaturesBody = z.infer<typeof FeastGetOnlineFeaturesBody>;

/** The reader's request for a parsed get-online-features body. */
export function toGetRequest(body: FeastGetOnlineFeaturesBody): GetOnlineFeaturesRequest {
  const entities = body.entities as GetOnlineFeaturesRequest['entities'];
  const full_feature_names = body.full_feature_names ?? false;
  if (body.feature_service !== undefined && body.feature_service !== null)
    return { feature_service: body.feature_service, entities, full_feature_names };
  return { features: body.features ?? [], entities, full_feature_names };
}

/** `POST /push`. */
export const FeastPushBody = PushRequest;
export type FeastPushBody = z.infer<typeof FeastPushBody>;

/** `POST /write-to-online-store`. */
export const FeastWriteBody = WriteToOnlineStoreRequest;
export type FeastWriteBody = z.infer<typeof FeastWriteBody>;

/** `POST /materialize`: rows with event times in [start_ts, end_ts] from the views' batch sources. */
export const FeastMaterializeBody = z.object({
  start_ts: z.string(),
  end_ts: z.string(),
  feature_views: z.array(z.string()).nullish(),
});
export type FeastMaterializeBody = z.infer<typeof FeastMaterializeBody>;

/** `POST /materialize-incremental`: rows up to end_ts (writes never replace newer values, so repeats are harmless). */
export const FeastMaterializeIncrementalBody = z.object({
  end_ts: z.string(),
  feature_views: z.array(z.string()).nullish(),
});
export type FeastMaterializeIncrementalBody = z.infer<typeof FeastMaterializeIncrementalBody>;
