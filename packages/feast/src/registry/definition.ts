import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RegattaError, parseOrThrow } from '@regatta/contracts';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DUMMY_ENTITY, DUMMY_JOIN_KEY } from '../entity-key.js';
import { ValueType, parseValueType, valueTypeName } from '../value-type.js';
import {
  DataSourceType,
  type EntityDef,
  type FeatureDef,
  type FeatureServiceDef,
  type FeatureViewDef,
  type RegistryContent,
} from './model.js';

const Name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'letters, digits and underscores');
const TypeName = z.string().min(1);
const Ttl = z.union([
  z.number().nonnegative(),
  z.string().regex(/^\d+\s*(s|m|h|d|w)?$/, 'a duration such as 3600, "90m", "48h" or "2d"'),
]);

/** The declarative definition of a feature repository, from which `registry build` writes `registry.db`. */
export const RepoDefinition = z
  .object({
    project: Name,
    entities: z
      .array(
        z
          .object({
            name: Name,
            join_key: Name.optional(),
            value_type: TypeName,
            description: z.string().optional(),
          })
          .strict(),
      )
      .default([]),
    feature_views: z
      .array(
        z
          .object({
            name: Name,
            entities: z.array(Name).default([]),
            ttl: Ttl.default(0),
            online: z.boolean().default(true),
            description: z.string().optional(),
            features: z.array(z.object({ name: Name, dtype: TypeName }).strict()).min(1),
            source: z
              .object({
                path: z.string().min(1),
                name: Name.optional(),
                timestamp_field: z.string().min(1).default('event_timestamp'),
                created_timestamp_column: z.string().min(1).optional(),
              })
              .strict()
              .optional(),
            push_source: Name.optional(),
          })
          .strict(),
      )
      .default([]),
    feature_services: z
      .array(
        z
          .object({
            name: Name,
            description: z.string().optional(),
            features: z
              .array(
                z.union([
                  Name,
                  z
                    .object({
                      view: Name,
                      features: z.array(Name).optional(),
                      alias: Name.optional(),
                      join_key_map: z.record(z.string(), z.string()).optional(),
                    })
                    .strict(),
                ]),
              )
              .min(1),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();
/** A repository definition as written (before defaults). */
export type RepoDefinitionInput = z.input<typeof RepoDefinition>;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds of a TTL given as a number of seconds or text such as `48h` / `2d`. */
export function parseTtl(ttl: number | string): number {
  if (typeof ttl === 'number') return ttl;
  const m = /^(\d+)\s*([smhdw])?$/.exec(ttl.trim());
  if (!m) throw new RegattaError('INVALID_ARGUMENT', `ttl ${ttl} is not a duration`);
  return Number(m[1]) * UNIT_SECONDS[m[2] ?? 's']!;
}

const KEY_TYPES: ReadonlySet<number> = new Set([
  ValueType.STRING,
  ValueType.BYTES,
  ValueType.INT32,
  ValueType.INT64,
  ValueType.UNIX_TIMESTAMP,
]);

function invalid(message: string): never {
  throw new RegattaError('INVALID_ARGUMENT', `repository definition: ${message}`);
}

function unique(names: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) invalid(`${what} ${name} is defined twice`);
    seen.add(name);
  }
}

/** Validates a definition and turns it into registry content; INVALID_ARGUMENT naming the first problem. */
export function definitionToRegistry(input: unknown): RegistryContent {
  const def = parseOrThrow(RepoDefinition, input, 'repository definition');
  unique(
    def.entities.map((e) => e.name),
    'entity',
  );
  unique(
    def.feature_views.map((v) => v.name),
    'feature view',
  );
  unique(
    def.feature_services.map((s) => s.name),
    'feature service',
  );

  const entities: EntityDef[] = def.entities.map((e) => {
    const valueType = parseValueType(e.value_type, `entity ${e.name} value_type`);
    if (!KEY_TYPES.has(valueType)) {
      invalid(
        `entity ${e.name} has type ${valueTypeName(valueType)}; join keys must be STRING, BYTES, INT32, INT64 or UNIX_TIMESTAMP`,
      );
    }
    return {
      name: e.name,
      joinKey: e.join_key ?? e.name,
      valueType,
      ...(e.description && { description: e.description }),
    };
  });
  const entityByName = new Map(entities.map((e) => [e.name, e]));
  if (def.feature_views.some((v) => v.entities.length === 0) && !entityByName.has(DUMMY_ENTITY)) {
    // Feast gives entityless views an implicit entity whose only value is the empty string.
    const dummy = { name: DUMMY_ENTITY, joinKey: DUMMY_JOIN_KEY, valueType: ValueType.STRING };
    entities.push(dummy);
    entityByName.set(DUMMY_ENTITY, dummy);
  }

  const featureViews: FeatureViewDef[] = def.feature_views.map((v) => {
    const keys = v.entities.map(
      (name) => entityByName.get(name) ?? invalid(`feature view ${v.name} uses unknown entity ${name}`),
    );
    const features: FeatureDef[] = v.features.map((f) => ({
      name: f.name,
      valueType: parseValueType(f.dtype, `feature ${v.name}:${f.name} dtype`),
    }));
    unique(
      features.map((f) => f.name),
      `feature of view ${v.name}:`,
    );
    for (const f of features) {
      if (keys.some((k) => k.joinKey === f.name))
        invalid(`feature view ${v.name} has a feature named like its join key ${f.name}`);
    }
    const batchSource = v.source && {
      name: v.source.name ?? `${v.name}_source`,
      type: DataSourceType.BATCH_FILE,
      path: v.source.path,
      timestampField: v.source.timestamp_field,
      ...(v.source.created_timestamp_column && { createdTimestampColumn: v.source.created_timestamp_column }),
    };
    const streamSource = v.push_source && {
      name: v.push_source,
      type: DataSourceType.PUSH_SOURCE,
      ...(batchSource && { timestampField: batchSource.timestampField }),
    };
    return {
      name: v.name,
      entities: v.entities.length > 0 ? v.entities : [DUMMY_ENTITY],
      features,
      entityColumns: keys.map((k) => ({ name: k.joinKey, valueType: k.valueType })),
      ttlSeconds: parseTtl(v.ttl),
      online: v.online,
      ...(v.description && { description: v.description }),
      ...(batchSource && { batchSource }),
      ...(streamSource && { streamSource }),
    };
  });
  const viewByName = new Map(featureViews.map((v) => [v.name, v]));

  const featureServices: FeatureServiceDef[] = def.feature_services.map((s) => ({
    name: s.name,
    ...(s.description && { description: s.description }),
    projections: s.features.map((item) => {
      const ref = typeof item === 'string' ? { view: item } : item;
      const view =
        viewByName.get(ref.view) ??
        invalid(`feature service ${s.name} uses unknown feature view ${ref.view}`);
      const features = ref.features
        ? ref.features.map(
            (name) =>
              view.features.find((f) => f.name === name) ??
              invalid(`feature service ${s.name}: feature view ${view.name} has no feature ${name}`),
          )
        : [...view.features];
      return {
        viewName: view.name,
        ...('alias' in ref && ref.alias && { alias: ref.alias }),
        features,
        joinKeyMap: ('join_key_map' in ref && ref.join_key_map) || {},
      };
    }),
  }));

  return { project: def.project, entities, featureViews, featureServices };
}

/**
 * Reads a definition file: `.json`, `.yaml`/`.yml`, or a module (`.js`, `.mjs`, `.ts`) whose default export is
 * the definition. TypeScript modules load only where the runtime can import them (a TypeScript loader or a
 * Node.js with type stripping).
 */
export async function loadDefinitionFile(file: string): Promise<RegistryContent> {
  const ext = path.extname(file).toLowerCase();
  let raw: unknown;
  if (ext === '.json' || ext === '.yaml' || ext === '.yml') {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      throw new RegattaError('INVALID_ARGUMENT', `cannot read definition file ${file}`);
    }
    try {
      raw = ext === '.json' ? JSON.parse(text) : parseYaml(text);
    } catch (err) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `definition file ${file} does not parse: ${(err as Error).message}`,
      );
    }
  } else if (ext === '.js' || ext === '.mjs' || ext === '.ts' || ext === '.mts') {
    try {
      const mod = (await import(pathToFileURL(path.resolve(file)).href)) as { default?: unknown };
      raw = mod.default;
    } catch (err) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `cannot import definition module ${file}: ${(err as Error).message}` +
          (ext.endsWith('ts') ? ' (use a .json or .yaml definition, or run under a TypeScript loader)' : ''),
      );
    }
  } else {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `definition file ${file} must be .json, .yaml, .yml, .js, .mjs or .ts`,
    );
  }
  return definitionToRegistry(raw);
}
