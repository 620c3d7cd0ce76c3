import { RegattaError } from '@regatta/contracts';
import { isMap, scalarText, type YamlMap } from './repo.js';

/** Variables compose substitutes into the files (the shell environment plus `.env`). */
export type ComposeVariables = Readonly<Record<string, string | undefined>>;

/**
 * Applies compose variable interpolation to one string: `${VAR}`, `$VAR`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `$$` (a literal `$`). A required
 * variable that is missing is INVALID_ARGUMENT carrying the file's own message.
 */
export function interpolate(value: string, variables: ComposeVariables): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (
      match,
      braced: string | undefined,
      op: string | undefined,
      arg: string | undefined,
      bare: string | undefined,
    ) => {
      if (match === '$$') return '$';
      const name = braced ?? bare ?? '';
      const current = variables[name];
      const unsetOrEmpty = current === undefined || current === '';
      switch (op) {
        case ':-':
          return unsetOrEmpty ? (arg ?? '') : current;
        case '-':
          return current === undefined ? (arg ?? '') : current;
        case ':?':
        case '?':
          if (op === ':?' ? unsetOrEmpty : current === undefined) {
            throw new RegattaError('INVALID_ARGUMENT', `required variable ${name} is missing: ${arg ?? ''}`);
          }
          return current ?? '';
        case undefined:
        default:
          return current ?? '';
      }
    },
  );
}

/** Every string inside `value` interpolated (mapping keys stay as written, as compose does). */
export function interpolateDeep(value: unknown, variables: ComposeVariables): unknown {
  if (typeof value === 'string') return interpolate(value, variables);
  if (Array.isArray(value)) return value.map((v) => interpolateDeep(v, variables));
  if (isMap(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, variables)]));
  }
  return value;
}

/** The `environment:` of a service as a map, from either the mapping or the `KEY=value` list form. */
export function environmentOf(service: YamlMap): Record<string, string> {
  const raw = service.environment;
  const out: Record<string, string> = {};
  if (Array.isArray(raw)) {
    for (const entry of raw) {
      const text = scalarText(entry);
      const eq = text.indexOf('=');
      if (eq > 0) out[text.slice(0, eq)] = text.slice(eq + 1);
    }
  } else if (isMap(raw)) {
    for (const [k, v] of Object.entries(raw)) out[k] = scalarText(v);
  }
  return out;
}

/** Names a service `depends_on`, from either the list or the mapping form. */
export function dependsOnOf(service: YamlMap): string[] {
  const raw = service.depends_on;
  if (Array.isArray(raw)) return raw.map(String);
  if (isMap(raw)) return Object.keys(raw);
  return [];
}

// Compose merges these per key when a later file overrides a service; other fields are replaced
// (sequences of ports, volumes and commands are handled by compose in more detail, which the
// checks here do not depend on).
const MERGED_MAPPINGS = new Set(['environment', 'depends_on', 'labels', 'build', 'healthcheck', 'deploy']);

/**
 * The model `docker compose -f a.yml -f b.yml` sees: services, volumes and networks of later files
 * merged into earlier ones (environment and depends_on entries by key).
 */
export function mergeComposeFiles(files: readonly YamlMap[]): YamlMap {
  const merged: YamlMap = {};
  for (const file of files) {
    for (const [section, value] of Object.entries(file)) {
      if (section.startsWith('x-')) continue;
      if (!isMap(value)) {
        merged[section] = value;
        continue;
      }
      const target = isMap(merged[section]) ? merged[section] : {};
      for (const [name, entry] of Object.entries(value)) {
        target[name] = section === 'services' ? mergeService(target[name], entry) : entry;
      }
      merged[section] = target;
    }
  }
  return merged;
}

function mergeService(base: unknown, override: unknown): YamlMap {
  if (!isMap(override)) throw new RegattaError('INVALID_ARGUMENT', 'a compose service must be a mapping');
  if (!isMap(base)) return { ...override };
  const out: YamlMap = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (key === 'environment') out.environment = { ...environmentOf(base), ...environmentOf(override) };
    else if (key === 'depends_on') out.depends_on = mergeDependsOn(base.depends_on, value);
    else if (MERGED_MAPPINGS.has(key) && isMap(base[key]) && isMap(value))
      out[key] = { ...base[key], ...value };
    else out[key] = value;
  }
  return out;
}

function mergeDependsOn(base: unknown, override: unknown): YamlMap {
  const asMap = (v: unknown): YamlMap =>
    Array.isArray(v)
      ? Object.fromEntries(v.map((name) => [String(name), { condition: 'service_started' }]))
      : isMap(v)
        ? v
        : {};
  return { ...asMap(base), ...asMap(override) };
}
