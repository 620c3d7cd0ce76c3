import { createHash } from 'node:crypto';
import { RegattaError } from '@regatta/contracts';
import { RegistryMessage } from '../proto/schema.js';
import {
  DataSourceType,
  FeastRegistry,
  type DataSourceDef,
  type FeatureDef,
  type FeatureServiceDef,
  type FeatureViewDef,
  type RegistryContent,
} from './model.js';

// Plain-object shapes of the protobuf messages (protobufjs toObject with numbers for 64-bit fields).
interface TimeObject {
  seconds?: number;
  nanos?: number;
}
interface FeatureSpecObject {
  name?: string;
  valueType?: number;
}
interface DataSourceObject {
  type?: number;
  name?: string;
  project?: string;
  timestampField?: string;
  createdTimestampColumn?: string;
  fileOptions?: { uri?: string };
  pushOptions?: Record<string, never>;
  batchSource?: DataSourceObject;
}
interface RegistryObject {
  entities?: {
    spec?: { name?: string; valueType?: number; description?: string; joinKey?: string; project?: string };
    meta?: { createdTimestamp?: TimeObject; lastUpdatedTimestamp?: TimeObject };
  }[];
  featureViews?: {
    spec?: {
      name?: string;
      project?: string;
      entities?: string[];
      features?: FeatureSpecObject[];
      ttl?: TimeObject;
      batchSource?: DataSourceObject;
      online?: boolean;
      streamSource?: DataSourceObject;
      description?: string;
      entityColumns?: FeatureSpecObject[];
      disabled?: boolean;
    };
    meta?: { createdTimestamp?: TimeObject; lastUpdatedTimestamp?: TimeObject };
  }[];
  featureServices?: {
    spec?: {
      name?: string;
      project?: string;
      description?: string;
      features?: {
        featureViewName?: string;
        featureColumns?: FeatureSpecObject[];
        featureViewNameAlias?: string;
        joinKeyMap?: Record<string, string>;
      }[];
    };
  }[];
  onDemandFeatureViews?: { spec?: { name?: string; project?: string } }[];
  dataSources?: DataSourceObject[];
  projects?: {
    spec?: { name?: string; description?: string };
    meta?: { createdTimestamp?: TimeObject; lastUpdatedTimestamp?: TimeObject };
  }[];
  lastUpdated?: TimeObject;
  versionId?: string;
}

const toMs = (t: TimeObject | undefined) =>
  t ? (t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : undefined;
const feature = (f: FeatureSpecObject): FeatureDef => ({ name: f.name ?? '', valueType: f.valueType ?? 0 });

function dataSource(s: DataSourceObject | undefined): DataSourceDef | undefined {
  if (!s) return undefined;
  return {
    name: s.name ?? '',
    type: s.type ?? DataSourceType.INVALID,
    ...(s.fileOptions?.uri && { path: s.fileOptions.uri }),
    ...(s.timestampField && { timestampField: s.timestampField }),
    ...(s.createdTimestampColumn && { createdTimestampColumn: s.createdTimestampColumn }),
  };
}

/** Decodes a serialized `feast.core.Registry` into the objects of one project. */
export function decodeRegistry(bytes: Uint8Array, project: string): RegistryContent {
  let registry: RegistryObject;
  try {
    registry = RegistryMessage.toObject(RegistryMessage.decode(bytes), { longs: Number });
  } catch (err) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `registry is not a valid feast.core.Registry: ${(err as Error).message}`,
    );
  }
  const entities = (registry.entities ?? [])
    .map((e) => e.spec ?? {})
    .filter((s) => s.project === project)
    .map((s) => ({
      name: s.name ?? '',
      // Feast defaults an entity's join key to its name.
      joinKey: s.joinKey || (s.name ?? ''),
      valueType: s.valueType ?? 0,
      ...(s.description && { description: s.description }),
    }));
  const featureViews: FeatureViewDef[] = (registry.featureViews ?? [])
    .map((v) => v.spec ?? {})
    .filter((s) => s.project === project && !s.disabled)
    .map((s) => {
      const batchSource = dataSource(s.batchSource);
      const streamSource = dataSource(s.streamSource);
      return {
        name: s.name ?? '',
        entities: s.entities ?? [],
        features: (s.features ?? []).map(feature),
        entityColumns: (s.entityColumns ?? []).map(feature),
        ttlSeconds: (s.ttl?.seconds ?? 0) + (s.ttl?.nanos ?? 0) / 1e9,
        online: s.online ?? false,
        ...(s.description && { description: s.description }),
        ...(batchSource && { batchSource }),
        ...(streamSource && { streamSource }),
      };
    });
  const featureServices: FeatureServiceDef[] = (registry.featureServices ?? [])
    .map((fs) => fs.spec ?? {})
    .filter((s) => s.project === project)
    .map((s) => ({
      name: s.name ?? '',
      ...(s.description && { description: s.description }),
      projections: (s.features ?? []).map((p) => ({
        viewName: p.featureViewName ?? '',
        ...(p.featureViewNameAlias && { alias: p.featureViewNameAlias }),
        features: (p.featureColumns ?? []).map(feature),
        joinKeyMap: { ...(p.joinKeyMap ?? {}) },
      })),
    }));
  const onDemandFeatureViews = (registry.onDemandFeatureViews ?? [])
    .map((v) => v.spec ?? {})
    .filter((s) => s.project === project)
    .map((s) => s.name ?? '');
  const lastUpdatedMs = toMs(registry.lastUpdated);
  return {
    project,
    entities,
    featureViews,
    featureServices,
    onDemandFeatureViews,
    ...(lastUpdatedMs !== undefined && { lastUpdatedMs }),
  };
}

/** Parses a serialized `feast.core.Registry` into an indexed registry of one project. */
export function parseRegistry(bytes: Uint8Array, project: string): FeastRegistry {
  return new FeastRegistry(decodeRegistry(bytes, project));
}

/** Options of `encodeRegistry`. */
export interface EncodeRegistryOptions {
  /** Epoch ms written as created / last-updated times; default now. */
  nowMs?: number;
  /** `version_id`; default a hash of the content, so the same definition gives the same bytes. */
  versionId?: string;
}

const time = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
const featureSpec = (f: FeatureDef) => ({ name: f.name, valueType: f.valueType });

function sourceObject(s: DataSourceDef, project: string, batch?: DataSourceObject): DataSourceObject {
  return {
    type: s.type,
    name: s.name,
    project,
    ...(s.timestampField && { timestampField: s.timestampField }),
    ...(s.createdTimestampColumn && { createdTimestampColumn: s.createdTimestampColumn }),
    ...(s.type === DataSourceType.BATCH_FILE && { fileOptions: { uri: s.path ?? '' } }),
    ...(s.type === DataSourceType.PUSH_SOURCE && { pushOptions: {} }),
    ...(batch && { batchSource: batch }),
  };
}

/**
 * Serializes a registry as a `feast.core.Registry` (the content of a file registry), with the fields Feast's
 * online path reads: entities, feature views (with entity columns, TTL and sources), feature services,
 * data sources and the project.
 */
export function encodeRegistry(content: RegistryContent, options: EncodeRegistryOptions = {}): Uint8Array {
  const now = time(options.nowMs ?? Date.now());
  const meta = { createdTimestamp: now, lastUpdatedTimestamp: now };
  const { project } = content;
  const dataSources = new Map<string, DataSourceObject>();
  const registry: RegistryObject = {
    entities: content.entities.map((e) => ({
      spec: {
        name: e.name,
        valueType: e.valueType,
        joinKey: e.joinKey,
        project,
        ...(e.description && { description: e.description }),
      },
      meta,
    })),
    featureViews: content.featureViews.map((v) => {
      const batch = v.batchSource ? sourceObject(v.batchSource, project) : undefined;
      const stream = v.streamSource ? sourceObject(v.streamSource, project, batch) : undefined;
      if (batch) dataSources.set(batch.name ?? '', batch);
      if (stream) dataSources.set(stream.name ?? '', stream);
      return {
        spec: {
          name: v.name,
          project,
          entities: [...v.entities],
          features: v.features.map(featureSpec),
          ...(v.ttlSeconds > 0 && { ttl: { seconds: Math.floor(v.ttlSeconds) } }),
          ...(batch && { batchSource: batch }),
          online: v.online,
          ...(stream && { streamSource: stream }),
          ...(v.description && { description: v.description }),
          entityColumns: v.entityColumns.map(featureSpec),
        },
        meta,
      };
    }),
    featureServices: content.featureServices.map((s) => ({
      spec: {
        name: s.name,
        project,
        ...(s.description && { description: s.description }),
        features: s.projections.map((p) => ({
          featureViewName: p.viewName,
          featureColumns: p.features.map(featureSpec),
          ...(p.alias && { featureViewNameAlias: p.alias }),
          joinKeyMap: { ...p.joinKeyMap },
        })),
      },
    })),
    onDemandFeatureViews: (content.onDemandFeatureViews ?? []).map((name) => ({ spec: { name, project } })),
    dataSources: [...dataSources.values()],
    projects: [{ spec: { name: project }, meta }],
    lastUpdated: now,
  };
  // Feast writes a random id; a hash of the content keeps rebuilt registries byte-identical.
  registry.versionId =
    options.versionId ?? createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 32);
  return RegistryMessage.encode(RegistryMessage.fromObject(registry)).finish();
}
