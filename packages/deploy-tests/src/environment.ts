import { ConfigError, loadConfig, type ConfigOf, type EnvSpec } from '@regatta/config';
import { isMap, scalarText, type YamlMap } from './repo.js';
import { objectId, type K8sObject } from './kustomize.js';

/** What an app would see at boot with `env`: its config, or every problem `loadConfig` names. */
export type EnvironmentCheck<E extends EnvSpec> =
  { ok: true; config: ConfigOf<E>; unknown: string[] } | { ok: false; problems: string[]; unknown: string[] };

/**
 * Loads `env` with the app's own spec, exactly as the app does at boot, and lists the variables
 * that the spec does not know (typos, leftovers) except those in `extra` (read by something else).
 */
export function checkEnvironment<E extends EnvSpec>(
  spec: E,
  env: Record<string, string>,
  extra: readonly string[] = [],
): EnvironmentCheck<E> {
  const unknown = Object.keys(env).filter((name) => !(name in spec) && !extra.includes(name));
  try {
    return { ok: true, config: loadConfig(spec, env), unknown };
  } catch (err) {
    if (err instanceof ConfigError) {
      return { ok: false, problems: err.problems.map((p) => `${p.variable}: ${p.message}`), unknown };
    }
    throw err;
  }
}

/** Variables an app's spec requires: no default and not optional (`describeEnv` shows "(required)"). */
export function requiredVariables(rows: readonly { variable: string; default: string }[]): string[] {
  return rows.filter((r) => r.default === '(required)').map((r) => r.variable);
}

/** The environment a container would get, and every reference that cannot be resolved. */
export interface ResolvedEnvironment {
  env: Record<string, string>;
  problems: string[];
}

function dataOf(obj: K8sObject): Record<string, string> {
  const out: Record<string, string> = {};
  const decode = obj.kind === 'Secret';
  if (isMap(obj.data)) {
    for (const [k, v] of Object.entries(obj.data))
      out[k] = decode ? Buffer.from(String(v), 'base64').toString() : String(v);
  }
  if (isMap(obj.stringData)) for (const [k, v] of Object.entries(obj.stringData)) out[k] = String(v);
  return out;
}

/**
 * The environment of `container` as the kubelet builds it from `objects` (one rendered overlay):
 * envFrom ConfigMaps and Secrets first, then `env` entries (`value`, configMapKeyRef,
 * secretKeyRef; `fieldRef` resolves to a placeholder). Missing non-optional references are problems.
 */
export function resolveContainerEnvironment(
  container: YamlMap,
  objects: readonly K8sObject[],
): ResolvedEnvironment {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  const find = (kind: string, name: unknown) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name);

  for (const source of Array.isArray(container.envFrom) ? container.envFrom : []) {
    if (!isMap(source)) continue;
    for (const [field, kind] of [
      ['configMapRef', 'ConfigMap'],
      ['secretRef', 'Secret'],
    ] as const) {
      const ref = source[field];
      if (!isMap(ref)) continue;
      const obj = find(kind, ref.name);
      if (obj) Object.assign(env, dataOf(obj));
      else if (ref.optional !== true) problems.push(`envFrom ${kind}/${String(ref.name)} does not exist`);
    }
  }

  for (const entry of Array.isArray(container.env) ? container.env : []) {
    if (!isMap(entry) || typeof entry.name !== 'string') continue;
    if (entry.value !== undefined) {
      env[entry.name] = scalarText(entry.value);
      continue;
    }
    const from = entry.valueFrom;
    if (!isMap(from)) {
      env[entry.name] = '';
      continue;
    }
    if (isMap(from.fieldRef)) {
      env[entry.name] = `<${String(from.fieldRef.fieldPath)}>`;
      continue;
    }
    for (const [field, kind] of [
      ['configMapKeyRef', 'ConfigMap'],
      ['secretKeyRef', 'Secret'],
    ] as const) {
      const ref = from[field];
      if (!isMap(ref)) continue;
      const obj = find(kind, ref.name);
      const value = obj ? dataOf(obj)[String(ref.key)] : undefined;
      if (value !== undefined) env[entry.name] = value;
      else if (ref.optional !== true) {
        problems.push(
          `${entry.name}: ${obj ? `${objectId(obj)} has no key ${String(ref.key)}` : `${kind}/${String(ref.name)} does not exist`}`,
        );
      }
    }
  }
  return { env, problems };
}
