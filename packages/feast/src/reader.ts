import { RegattaError, type FieldStatus, type GetFeaturesRequest } from '@regatta/contracts';
import { histogram } from '@regatta/telemetry';
import {
  EntityKeySerializer,
  serializeEntityKey,
  toEntityKeyValue,
  type EntityKeySerializationVersion,
  type EntityKeyValue,
} from './entity-key.js';
import type { FeastRegistry, FeatureViewDef, JoinKeyDef } from './registry/model.js';
import type { OnlineReadRequest, OnlineStore } from './stores/online-store.js';
import { EPOCH_RFC3339, formatRfc3339 } from './time.js';
import { valueToJson, type JsonFeatureValue } from './value.js';

/** A get-online-features request (validate bodies with `GetFeaturesRequest` from @regatta/contracts). */
export type GetOnlineFeaturesRequest = GetFeaturesRequest;

/** One column of the response: a value, status and event time per entity row. */
export interface FeatureColumn {
  values: JsonFeatureValue[];
  statuses: FieldStatus[];
  event_timestamps: string[];
}

/**
 * Feast's column-major get-online-features response (a `GetFeaturesReply` of @regatta/contracts). The
 * reader's metadata is shared by requests of the same shape and frozen: copy it to change it.
 */
export interface GetOnlineFeaturesResponse {
  metadata: { feature_names: string[] };
  results: FeatureColumn[];
}

/** Where the reader gets the registry from on each request (a RegistryHolder, or a fixed registry in tests). */
export interface RegistrySource {
  current(): FeastRegistry;
}

/** Options of an OnlineFeatureReader. */
export interface OnlineFeatureReaderOptions {
  entityKeySerializationVersion?: EntityKeySerializationVersion;
  /** Clock for TTL checks; default Date.now. */
  now?: () => number;
}

interface ViewPlan {
  view: FeatureViewDef;
  /** Feature names, one array object reused for every store request of this view. */
  features: string[];
  joinKeys: readonly JoinKeyDef[];
  /** Per join key: request columns that may carry it, in order of preference. */
  columns: string[][];
  entityless: boolean;
  /** The entity key of an entityless view (`__dummy_id = ""`). */
  dummyKey: Buffer | undefined;
  ttlMs: number;
}

/** What a feature service or list of refs resolves to in one registry: built once, used by every request. */
interface Plan {
  views: ViewPlan[];
  featureNames: string[];
  allEntityless: boolean;
  /** Request layouts by the request's entity column names. */
  layouts: Map<string, Layout>;
}

/** Entity keys of the rows, shared by every view with the same join keys read from the same columns. */
interface KeySet {
  serializer: EntityKeySerializer;
  /** Per join key (in the view's order): the request column, the join key and its type. */
  sources: { column: string; joinKey: string; valueType: number }[];
}

/** A join key a view needs that the request lacks. */
interface MissingColumn {
  column: string;
  joinKey: string;
  view: string;
}

/** How a plan meets a request with a given set of entity columns (everything that does not depend on values). */
interface Layout {
  /** Per view: index into `keySets`, -1 for entityless views, or the join key the request lacks. */
  viewKeys: (number | MissingColumn)[];
  keySets: KeySet[];
  /** Join-key columns that lead the response, in request order. */
  joinKeyColumns: { column: string; joinKey: string; valueType: number; name: string }[];
  /** The response's metadata (join-key columns, then the plan's feature names), frozen. */
  metadata: GetOnlineFeaturesResponse['metadata'];
}

const storeReadSeconds = histogram({
  name: 'feast_online_store_read_seconds',
  help: 'Online store read time per get-online-features call, all views and entities in one round trip',
  labelNames: ['store'] as const,
});

function observeStoreRead(store: OnlineStore['kind'], seconds: number): void {
  storeReadSeconds.observe({ store }, seconds);
}

const PLAN_CACHE_LIMIT = 1000;
const LAYOUT_CACHE_LIMIT = 64;

/**
 * The core of get-online-features: resolves feature refs or a feature service against the in-memory registry,
 * converts entity values to their declared types, reads every view of every entity from the store in one call,
 * and shapes Feast's column-major response with PRESENT / NULL_VALUE / NOT_FOUND / OUTSIDE_MAX_AGE statuses.
 */
export class OnlineFeatureReader {
  private readonly plans = new WeakMap<FeastRegistry, Map<string, Plan>>();
  private readonly version: EntityKeySerializationVersion;
  private readonly now: () => number;

  constructor(
    private readonly registry: RegistrySource,
    private readonly store: OnlineStore,
    options: OnlineFeatureReaderOptions = {},
  ) {
    this.version = options.entityKeySerializationVersion ?? 3;
    this.now = options.now ?? Date.now;
  }

  /**
   * Online features of the entity rows; NOT_FOUND naming an unknown view, feature or service, INVALID_ARGUMENT
   * for entity values of the wrong type or missing entity columns, UNAVAILABLE when the store is down.
   */
  async getOnlineFeatures(request: GetOnlineFeaturesRequest): Promise<GetOnlineFeaturesResponse> {
    const registry = this.registry.current();
    const fullNames = request.full_feature_names ?? false;
    const plan = this.plan(registry, request, fullNames);
    const entities = request.entities;
    const columnNames = Object.keys(entities);
    let rows = -1;
    for (const name of columnNames) {
      const column = entities[name];
      if (!Array.isArray(column))
        throw new RegattaError('INVALID_ARGUMENT', `entities.${name} must be a list of values`);
      if (rows >= 0 && column.length !== rows) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `entity columns have different lengths: ${columnNames[0]} has ${rows} values, ${name} has ${column.length}`,
        );
      }
      rows = column.length;
    }
    if (rows < 0) rows = plan.allEntityless ? 1 : 0;
    const layout = this.layout(registry, plan, entities, columnNames);

    // Each (column, type) is converted once, each distinct join-key set serialized once, however many views use it.
    const converted = new Map<string, EntityKeyValue[]>();
    const convert = (column: string, joinKey: string, valueType: number): EntityKeyValue[] => {
      const id = `${column}\u0000${valueType}`;
      let values = converted.get(id);
      if (!values) {
        values = (entities[column] as unknown[]).map((v) => toEntityKeyValue(joinKey, valueType, v));
        converted.set(id, values);
      }
      return values;
    };
    const keySets = new Array<Buffer[] | undefined>(layout.keySets.length);
    const requests: OnlineReadRequest[] = [];
    const firstRequest = new Array<number>(plan.views.length);
    for (let v = 0; v < plan.views.length; v++) {
      const vp = plan.views[v]!;
      firstRequest[v] = requests.length;
      if (vp.dummyKey) {
        requests.push({ view: vp.view.name, entityKey: vp.dummyKey, features: vp.features });
        continue;
      }
      const k = layout.viewKeys[v]!;
      if (typeof k !== 'number') {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `missing entity column ${k.column} (join key of feature view ${k.view})`,
          { join_key: k.joinKey },
        );
      }
      let keys = keySets[k];
      if (!keys) {
        const { serializer, sources } = layout.keySets[k]!;
        const values = sources.map((s) => convert(s.column, s.joinKey, s.valueType));
        keys = new Array<Buffer>(rows);
        if (values.length === 1) {
          const only = values[0]!;
          const one: EntityKeyValue[] = [only[0]!];
          for (let r = 0; r < rows; r++) {
            one[0] = only[r]!;
            keys[r] = serializer.serialize(one);
          }
        } else {
          for (let r = 0; r < rows; r++) keys[r] = serializer.serialize(values.map((c) => c[r]!));
        }
        keySets[k] = keys;
      }
      for (let r = 0; r < rows; r++)
        requests.push({ view: vp.view.name, entityKey: keys[r]!, features: vp.features });
    }

    const started = performance.now();
    const results = requests.length > 0 ? await this.store.read(requests) : [];
    // Recorded once the reply is on its way: updating the histogram is no part of answering.
    setImmediate(observeStoreRead, this.store.kind, (performance.now() - started) / 1000);

    const columns: FeatureColumn[] = [];
    for (const { column, joinKey, valueType } of layout.joinKeyColumns) {
      const values = convert(column, joinKey, valueType);
      columns.push({
        values: values.map(valueToJson),
        statuses: new Array<FieldStatus>(rows).fill('PRESENT'),
        event_timestamps: new Array<string>(rows).fill(EPOCH_RFC3339),
      });
    }

    const now = this.now();
    // Values of one view and entity share an event time: its text is made once per result, and runs of
    // equal times across results (a batch loaded at once) share one.
    let lastMs = Number.NaN;
    let lastText = EPOCH_RFC3339;
    const resultMs = new Float64Array(results.length).fill(Number.NaN);
    const resultText = new Array<string>(results.length);
    for (let v = 0; v < plan.views.length; v++) {
      const vp = plan.views[v]!;
      const base = firstRequest[v]!;
      const step = vp.entityless ? 0 : 1;
      const ttlMs = vp.ttlMs;
      for (let f = 0; f < vp.features.length; f++) {
        const values = new Array<JsonFeatureValue>(rows);
        const statuses = new Array<FieldStatus>(rows);
        const timestamps = new Array<string>(rows);
        for (let r = 0, i = base; r < rows; r++, i += step) {
          const result = results[i]!;
          const value = result.values[f];
          if (value === undefined) {
            values[r] = null;
            statuses[r] = 'NOT_FOUND';
            timestamps[r] = EPOCH_RFC3339;
            continue;
          }
          const eventMs = result.eventTimesMs[f] ?? 0;
          values[r] = value;
          statuses[r] =
            value === null
              ? 'NULL_VALUE'
              : ttlMs > 0 && now - eventMs > ttlMs
                ? 'OUTSIDE_MAX_AGE'
                : 'PRESENT';
          if (resultMs[i] !== eventMs) {
            if (eventMs !== lastMs) {
              lastMs = eventMs;
              lastText = formatRfc3339(eventMs);
            }
            resultMs[i] = eventMs;
            resultText[i] = lastText;
          }
          timestamps[r] = resultText[i]!;
        }
        columns.push({ values, statuses, event_timestamps: timestamps });
      }
    }
    return { metadata: layout.metadata, results: columns };
  }

  /** The layout of a request with these entity columns, built once per plan and set of columns. */
  private layout(
    registry: FeastRegistry,
    plan: Plan,
    entities: Readonly<Record<string, readonly unknown[]>>,
    columnNames: readonly string[],
  ): Layout {
    const id = columnNames.join('\u0000');
    let layout = plan.layouts.get(id);
    if (layout) return layout;

    const viewKeys: (number | MissingColumn)[] = [];
    const keySets: KeySet[] = [];
    const keySetIds = new Map<string, number>();
    // Request column -> join key it carries, and the name it is reported under: the join key itself, except
    // for columns a feature service maps a join key to, which keep their own name.
    const used = new Map<string, { jk: JoinKeyDef; name: string }>();
    for (const vp of plan.views) {
      if (vp.entityless) {
        viewKeys.push(-1);
        continue;
      }
      let missing: MissingColumn | undefined;
      const chosen = vp.joinKeys.map((jk, k) => {
        const column = vp.columns[k]!.find((c) => c in entities);
        if (column === undefined) {
          missing ??= { column: vp.columns[k]![0]!, joinKey: jk.joinKey, view: vp.view.name };
          return '';
        }
        if (!used.has(column)) {
          const mapped = column !== jk.joinKey && column !== jk.entity;
          used.set(column, { jk, name: mapped ? column : jk.joinKey });
        }
        return column;
      });
      if (missing) {
        viewKeys.push(missing);
        continue;
      }
      const keyId = vp.joinKeys.map((jk, k) => `${jk.joinKey}=${chosen[k]}:${jk.valueType}`).join('\u0000');
      let index = keySetIds.get(keyId);
      if (index === undefined) {
        index = keySets.length;
        keySetIds.set(keyId, index);
        keySets.push({
          serializer: new EntityKeySerializer(
            vp.joinKeys.map((jk) => jk.joinKey),
            this.version,
          ),
          sources: vp.joinKeys.map((jk, k) => ({
            column: chosen[k]!,
            joinKey: jk.joinKey,
            valueType: jk.valueType,
          })),
        });
      }
      viewKeys.push(index);
    }

    const joinKeyColumns: Layout['joinKeyColumns'] = [];
    const emitted = new Set<string>();
    for (const column of columnNames) {
      let use = used.get(column);
      if (!use) {
        // Join keys of other entities of the project are echoed too; anything else is request data.
        const entity = registry.entityForColumn(column);
        if (!entity) continue;
        use = {
          jk: { joinKey: entity.joinKey, entity: entity.name, valueType: entity.valueType },
          name: entity.joinKey,
        };
      }
      const { jk, name } = use;
      if (emitted.has(name)) continue;
      emitted.add(name);
      joinKeyColumns.push({ column, joinKey: jk.joinKey, valueType: jk.valueType, name });
    }

    // The same for every request of this layout; frozen, so the reply encoder writes it once.
    const featureNames = Object.freeze([...joinKeyColumns.map((c) => c.name), ...plan.featureNames]);
    const metadata = Object.freeze({ feature_names: featureNames as string[] });
    layout = { viewKeys, keySets, joinKeyColumns, metadata };
    if (plan.layouts.size >= LAYOUT_CACHE_LIMIT) plan.layouts.clear();
    plan.layouts.set(id, layout);
    return layout;
  }

  private plan(registry: FeastRegistry, request: GetOnlineFeaturesRequest, fullNames: boolean): Plan {
    let cache = this.plans.get(registry);
    if (!cache) this.plans.set(registry, (cache = new Map<string, Plan>()));
    const id =
      request.feature_service !== undefined
        ? `${fullNames ? 1 : 0}s${request.feature_service}`
        : `${fullNames ? 1 : 0}f${(request.features ?? []).join('\u0000')}`;
    let plan = cache.get(id);
    if (!plan) {
      plan = this.buildPlan(registry, request, fullNames);
      if (cache.size >= PLAN_CACHE_LIMIT) cache.clear();
      cache.set(id, plan);
    }
    return plan;
  }

  private buildPlan(registry: FeastRegistry, request: GetOnlineFeaturesRequest, fullNames: boolean): Plan {
    type Selection = {
      view: FeatureViewDef;
      name: string;
      features: string[];
      joinKeyMap: Readonly<Record<string, string>>;
    };
    const selections: Selection[] = [];
    if (request.feature_service !== undefined) {
      const service = registry.featureService(request.feature_service);
      for (const p of service.projections) {
        const view = registry.featureView(p.viewName);
        const features =
          p.features.length > 0 ? p.features.map((f) => f.name) : view.features.map((f) => f.name);
        selections.push({ view, name: p.alias ?? view.name, features, joinKeyMap: p.joinKeyMap });
      }
    } else {
      const refs = request.features ?? [];
      if (refs.length === 0) throw new RegattaError('INVALID_ARGUMENT', 'no features requested');
      const byView = new Map<string, Selection>();
      for (const ref of refs) {
        const colon = ref.indexOf(':');
        if (colon <= 0 || colon === ref.length - 1) {
          throw new RegattaError(
            'INVALID_ARGUMENT',
            `feature reference ${JSON.stringify(ref)} is not view:feature`,
          );
        }
        const viewName = ref.slice(0, colon);
        let selection = byView.get(viewName);
        if (!selection) {
          const view = registry.featureView(viewName);
          selection = { view, name: view.name, features: [], joinKeyMap: {} };
          byView.set(viewName, selection);
          selections.push(selection);
        }
        selection.features.push(ref.slice(colon + 1));
      }
    }

    const views: ViewPlan[] = [];
    const featureNames: string[] = [];
    const seen = new Map<string, string>();
    for (const s of selections) {
      if (!s.view.online) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `feature view ${s.view.name} is not served online (online: false)`,
          {
            feature_view: s.view.name,
          },
        );
      }
      const known = new Set(s.view.features.map((f) => f.name));
      for (const feature of s.features) {
        if (!known.has(feature)) {
          throw new RegattaError('NOT_FOUND', `feature ${feature} not found in feature view ${s.view.name}`, {
            feature_view: s.view.name,
            feature,
          });
        }
        const output = fullNames ? `${s.name}__${feature}` : feature;
        const previous = seen.get(output);
        if (previous !== undefined) {
          throw new RegattaError(
            'INVALID_ARGUMENT',
            `feature name ${output} is requested twice (${previous} and ${s.name}:${feature})` +
              (fullNames ? '' : '; set full_feature_names to tell them apart'),
          );
        }
        seen.set(output, `${s.name}:${feature}`);
        featureNames.push(output);
      }
      const joinKeys = registry.joinKeys(s.view);
      const entityless = registry.isEntityless(s.view);
      views.push({
        view: s.view,
        features: s.features,
        joinKeys,
        columns: joinKeys.map((jk) => {
          const mapped = s.joinKeyMap[jk.joinKey];
          if (mapped) return [mapped];
          return jk.entity && jk.entity !== jk.joinKey ? [jk.joinKey, jk.entity] : [jk.joinKey];
        }),
        entityless,
        dummyKey: entityless
          ? serializeEntityKey([joinKeys[0]!.joinKey], [{ kind: 'string', value: '' }], this.version)
          : undefined,
        ttlMs: s.view.ttlSeconds * 1000,
      });
    }
    return { views, featureNames, allEntityless: views.every((v) => v.entityless), layouts: new Map() };
  }
}
