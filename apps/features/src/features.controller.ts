import { FEATURES, MAX_FEATURE_VALUES, type ParsedRequestOf } from '@regatta/contracts';
import { encodeOnlineFeaturesResponse } from '@regatta/feast';
import { EncodedJson, type RouteHandler } from '@regatta/transport';
import { type FeaturesService } from './features.service.js';

/**
 * `features.get.v1`: entity rows + feature refs or a feature service -> Feast's column-major reply.
 * Served as a direct route (RegattaServer.addRoute): a hot subject that needs none of Nest's per-message
 * pipeline. The request arrives validated against its contract; the reply leaves as JSON bytes made by
 * `encodeOnlineFeaturesResponse`.
 */
export function getFeaturesRoute(features: FeaturesService): RouteHandler {
  return async (request) =>
    new EncodedJson(
      encodeOnlineFeaturesResponse(
        await features.getFeatures(
          request as ParsedRequestOf<typeof FEATURES.get>,
          'features.get.v1',
          MAX_FEATURE_VALUES,
        ),
      ),
    );
}
