import { RegattaError } from '@regatta/contracts';
import { DUMMY_ENTITY, DUMMY_JOIN_KEY } from '../entity-key.js';
import { ValueType } from '../value-type.js';

/** A typed column: a feature or a join key, with its `ValueType` code. */
export interface FeatureDef {
  readonly name: string;
  readonly valueType: number;
}

/** An entity of the project. */
export interface EntityDef {
  readonly name: string;
  readonly joinKey: string;
  /** ValueType code; UNKNOWN (0) when the entity was declared without one. */
  readonly valueType: number;
  readonly description?: string;
}

/** Feast DataSource types Regatta knows by name. */
export const DataSourceType = { INVALID: 0, BATCH_FILE: 1, PUSH_SOURCE: 9 } as const;

/** Where a feature view's rows come from: a file (batch) or a push source (stream). */
export interface DataSourceDef {
  readonly name: string;
  /** DataSource.SourceType code (BATCH_FILE 1, PUSH_SOURCE 9, ...). */
  readonly type: number;
  /** File location for file sources (as written in the registry, usually relative to the repository). */
  readonly path?: string;
  readonly timestampField?: string;
  readonly createdTimestampColumn?: string;
}

/** A feature view as the online path needs it. */
export interface FeatureViewDef {
  readonly name: string;
  /** Entity names as declared (`__dummy` for entityless views). */
  readonly entities: readonly string[];
  readonly features: readonly FeatureDef[];
  /** Join-key columns stored with the view (`entity_columns`); may be empty in older registries. */
  readonly entityColumns: readonly FeatureDef[];
  /** 0 means the values never expire. */
  readonly ttlSeconds: number;
  readonly online: boolean;
  readonly description?: string;
  readonly batchSource?: DataSourceDef;
  readonly streamSource?: DataSourceDef;
}

/** The features of one view that a feature service selects. */
export interface FeatureProjectionDef {
  readonly viewName: string;
  /** Name used instead of the view's in full feature names (`alias__feature`). */
  readonly alias?: string;
  /** Selected features; all of the view's when empty. */
  readonly features: readonly FeatureDef[];
  /** Join key -> entity column name in requests, for views joined on differently named columns. */
  readonly joinKeyMap: Readonly<Record<string, string>>;
}

/** A named group of feature projections. */
export interface FeatureServiceDef {
  readonly name: string;
  readonly projections: readonly FeatureProjectionDef[];
  readonly description?: string;
}

/** The content of a registry for one project. */
export interface RegistryContent {
  readonly project: string;
  readonly entities: readonly EntityDef[];
  readonly featureViews: readonly FeatureViewDef[];
  readonly featureServices: readonly FeatureServiceDef[];
  /** Names of on-demand feature views, which Regatta recognises but does not serve. */
  readonly onDemandFeatureViews?: readonly string[];
  /** Epoch ms of the registry's `last_updated`, when present. */
  readonly lastUpdatedMs?: number;
}

/** A feature view's join key with the type its values are converted to. */
export interface JoinKeyDef {
  readonly joinKey: string;
  /** Entity name the key belongs to, accepted as an alternative request column. */
  readonly entity?: string;
  readonly valueType: number;
}

const DUMMY_KEYS: readonly JoinKeyDef[] = Object.freeze([
  { joinKey: DUMMY_JOIN_KEY, entity: DUMMY_ENTITY, valueType: ValueType.STRING },
]);

/** An immutable, indexed registry of one project; lookups of unknown names throw NOT_FOUND naming them. */
export class FeastRegistry {
  readonly entities: ReadonlyMap<string, EntityDef>;
  readonly featureViews: ReadonlyMap<string, FeatureViewDef>;
  readonly featureServices: ReadonlyMap<string, FeatureServiceDef>;
  readonly onDemandFeatureViews: ReadonlySet<string>;
  private readonly joinKeyCache = new Map<string, readonly JoinKeyDef[]>();
  private readonly byJoinKey = new Map<string, EntityDef>();

  constructor(readonly content: RegistryContent) {
    this.entities = new Map(content.entities.map((e) => [e.name, e]));
    this.featureViews = new Map(content.featureViews.map((v) => [v.name, v]));
    this.featureServices = new Map(content.featureServices.map((s) => [s.name, s]));
    this.onDemandFeatureViews = new Set(content.onDemandFeatureViews ?? []);
    for (const e of content.entities) this.byJoinKey.set(e.joinKey, e);
  }

  /** The project this registry was filtered to. */
  get project(): string {
    return this.content.project;
  }

  /** A feature view by name; NOT_FOUND naming it otherwise (and saying so for on-demand views). */
  featureView(name: string): FeatureViewDef {
    const view = this.featureViews.get(name);
    if (view) return view;
    if (this.onDemandFeatureViews.has(name)) {
      throw new RegattaError('NOT_FOUND', `on-demand feature view ${name} is not served by Regatta`, {
        feature_view: name,
      });
    }
    throw new RegattaError('NOT_FOUND', `feature view ${name} not found in project ${this.project}`, {
      feature_view: name,
    });
  }

  /** A feature service by name; NOT_FOUND naming it otherwise. */
  featureService(name: string): FeatureServiceDef {
    const service = this.featureServices.get(name);
    if (service) return service;
    throw new RegattaError('NOT_FOUND', `feature service ${name} not found in project ${this.project}`, {
      feature_service: name,
    });
  }

  /** The entity whose join key (or name) is `column`, if any. */
  entityForColumn(column: string): EntityDef | undefined {
    return this.byJoinKey.get(column) ?? this.entities.get(column);
  }

  /** Whether the view has no entities (its rows live under `__dummy_id = ""`). */
  isEntityless(view: FeatureViewDef): boolean {
    return view.entities.length === 0 || (view.entities.length === 1 && view.entities[0] === DUMMY_ENTITY);
  }

  /**
   * The join keys of a view with their types: from its entity columns when the registry has them, else from
   * its entities; `__dummy_id` for entityless views.
   */
  joinKeys(view: FeatureViewDef): readonly JoinKeyDef[] {
    const cached = this.joinKeyCache.get(view.name);
    if (cached) return cached;
    let keys: readonly JoinKeyDef[];
    if (this.isEntityless(view)) {
      keys = DUMMY_KEYS;
    } else if (view.entityColumns.length > 0) {
      keys = view.entityColumns.map((column) => {
        const entity = this.byJoinKey.get(column.name);
        return {
          joinKey: column.name,
          ...(entity && { entity: entity.name }),
          valueType:
            column.valueType !== ValueType.UNKNOWN
              ? column.valueType
              : (entity?.valueType ?? ValueType.UNKNOWN),
        };
      });
    } else {
      keys = view.entities.map((name) => {
        const entity = this.entities.get(name);
        return {
          joinKey: entity?.joinKey ?? name,
          entity: name,
          valueType: entity?.valueType ?? ValueType.UNKNOWN,
        };
      });
    }
    this.joinKeyCache.set(view.name, keys);
    return keys;
  }
}
