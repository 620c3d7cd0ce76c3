import { RegattaError, type FieldStatus, type GetFeaturesRequest } from '@regatta/contracts';
import { histogram } from '@regatta/telemetry';
import {
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

/** Feast's column-major get-online-features response (a `GetFeaturesReply` of @regatta/contracts). */
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
  ttlMs: number;
}

interface Plan {
  views: ViewPlan[];
  featureNames: string[];
}

const storeReadSeconds = histogram({
  name: 'feast_online_store_read_seconds',
  help: 'Online store read time per get-online-features call, all views and entities in one round trip',
  labelNames: ['store'] as const,
});

const PLAN_CACHE_LIMIT = 1000;

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
    if (rows < 0) rows = plan.views.every((v) => v.entityless) ? 1 : 0;

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
    const keySets = new Map<string, Buffer[]>();
    const requests: OnlineReadRequest[] = [];
    const firstRequest: number[] = [];
    for (const vp of plan.views) {
      firstRequest.push(requests.length);
      if (vp.entityless) {
        const key = serializeEntityKey(
          [vp.joinKeys[0]!.joinKey],
          [{ kind: 'string', value: '' }],
          this.version,
        );
        requests.push({ view: vp.view.name, entityKey: key, features: vp.features });
        continue;
      }
      const chosen = vp.joinKeys.map((jk, k) => {
        const column = vp.columns[k]!.find((c) => c in entities);
        if (column === undefined) {
          throw new RegattaError(
            'INVALID_ARGUMENT',
            `missing entity column ${vp.columns[k]![0]} (join key of feature view ${vp.view.name})`,
            { join_key: jk.joinKey },
          );
        }
        return column;
      });
      const id = vp.joinKeys.map((jk, k) => `${jk.joinKey}=${chosen[k]}:${jk.valueType}`).join('\u0000');
      let keys = keySets.get(id);
      if (!keys) {
        const values = vp.joinKeys.map((jk, k) => convert(chosen[k]!, jk.joinKey, jk.valueType));
        const names = vp.joinKeys.map((jk) => jk.joinKey);
        keys = new Array<Buffer>(rows);
        for (let r = 0; r < rows; r++)
          keys[r] = serializeEntityKey(
            names,
            values.map((v) => v[r]!),
            this.version,
          );
        keySets.set(id, keys);
      }
      for (let r = 0; r < rows; r++)
        requests.push({ view: vp.view.name, entityKey: keys[r]!, features: vp.features });
    }

    const started = process.hrtime.bigint();
    const results = requests.length > 0 ? await this.store.read(requests) : [];
    storeReadSeconds.observe({ store: this.store.kind }, Number(process.hrtime.bigint() - started) / 1e9);

    const featureNames: string[] = [];
    const columns: FeatureColumn[] = [];
    this.joinKeyColumns(registry, plan, entities, rows, convert, featureNames, columns);

    const now = this.now();
    let lastMs = Number.NaN;
    let lastText = EPOCH_RFC3339;
    const format = (ms: number) => {
      // Values of one view and entity share a timestamp; formatting it once per run of equal times is enough.
      if (ms !== lastMs) {
        lastMs = ms;
        lastText = formatRfc3339(ms);
      }
      return lastText;
    };
    let nameIndex = 0;
    plan.views.forEach((vp, v) => {
      const base = firstRequest[v]!;
      for (let f = 0; f < vp.features.length; f++) {
        const column: FeatureColumn = {
          values: new Array<JsonFeatureValue>(rows),
          statuses: new Array<FieldStatus>(rows),
          event_timestamps: new Array<string>(rows),
        };
        for (let r = 0; r < rows; r++) {
          const result = results[vp.entityless ? base : base + r]!;
          const value = result.values[f];
          if (value === undefined) {
            column.values[r] = null;
            column.statuses[r] = 'NOT_FOUND';
            column.event_timestamps[r] = EPOCH_RFC3339;
            continue;
          }
          const eventMs = result.eventTimesMs[f] ?? 0;
          column.values[r] = value;
          column.statuses[r] =
            value === null
              ? 'NULL_VALUE'
              : vp.ttlMs > 0 && now - eventMs > vp.ttlMs
                ? 'OUTSIDE_MAX_AGE'
                : 'PRESENT';
          column.event_timestamps[r] = format(eventMs);
        }
        featureNames.push(plan.featureNames[nameIndex++]!);
        columns.push(column);
      }
    });
    return { metadata: { feature_names: featureNames }, results: columns };
  }

  /** Join-key columns lead the response, PRESENT with the epoch as timestamp, in the order the request gave them. */
  private joinKeyColumns(
    registry: FeastRegistry,
    plan: Plan,
    entities: Readonly<Record<string, readonly unknown[]>>,
    rows: number,
    convert: (column: string, joinKey: string, valueType: number) => EntityKeyValue[],
    names: string[],
    columns: FeatureColumn[],
  ): void {
    // Request column -> join key it carries, and the name it is reported under: the join key itself, except
    // for columns a feature service maps a join key to, which keep their own name.
    const used = new Map<string, { jk: JoinKeyDef; name: string }>();
    for (const vp of plan.views) {
      if (vp.entityless) continue;
      vp.joinKeys.forEach((jk, k) => {
        const column = vp.columns[k]!.find((c) => c in entities);
        if (column === undefined || used.has(column)) return;
        const mapped = column !== jk.joinKey && column !== jk.entity;
        used.set(column, { jk, name: mapped ? column : jk.joinKey });
      });
    }
    const emitted = new Set<string>();
    for (const column of Object.keys(entities)) {
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
      const values = convert(column, jk.joinKey, jk.valueType);
      names.push(name);
      columns.push({
        values: values.map(valueToJson),
        statuses: new Array<FieldStatus>(rows).fill('PRESENT'),
        event_timestamps: new Array<string>(rows).fill(EPOCH_RFC3339),
      });
    }
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
      views.push({
        view: s.view,
        features: s.features,
        joinKeys,
        columns: joinKeys.map((jk) => {
          const mapped = s.joinKeyMap[jk.joinKey];
          if (mapped) return [mapped];
          return jk.entity && jk.entity !== jk.joinKey ? [jk.joinKey, jk.entity] : [jk.joinKey];
        }),
        entityless: registry.isEntityless(s.view),
        ttlMs: s.view.ttlSeconds * 1000,
      });
    }
    return { views, featureNames };
  }
}
