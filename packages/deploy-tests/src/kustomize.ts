import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { RegattaError } from '@regatta/contracts';
import { isMap, parseYaml, parseYamlDocuments, scalarText, type YamlMap } from './repo.js';

/** A Kubernetes object as written in a manifest. */
export interface K8sObject extends YamlMap {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> } & YamlMap;
}

/** How a kustomization is read: `readFile` may stand in for files an operator writes at deploy time. */
export interface KustomizeOptions {
  /** Reads a file a kustomization names (default: the file system; throws NOT_FOUND if missing). */
  readFile?: (absolutePath: string) => string;
}

// The fields this renderer implements; anything else fails loudly instead of being ignored.
const SUPPORTED = new Set([
  'apiVersion',
  'kind',
  'resources',
  'namespace',
  'images',
  'patches',
  'replicas',
  'configMapGenerator',
  'secretGenerator',
  'generatorOptions',
]);

/** Merge keys of strategic-merge lists, by field name (what kubectl uses for these fields). */
const LIST_MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  imagePullSecrets: 'name',
  volumeClaimTemplates: 'name',
};

function defaultRead(file: string): string {
  if (!existsSync(file)) throw new RegattaError('NOT_FOUND', `${file} does not exist`);
  return readFileSync(file, 'utf8');
}

function list(value: unknown, what: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new RegattaError('INVALID_ARGUMENT', `${what} must be a list`);
  return value;
}

function asObject(doc: YamlMap, source: string): K8sObject {
  const metadata = doc.metadata;
  if (typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string' || !isMap(metadata)) {
    throw new RegattaError('INVALID_ARGUMENT', `${source}: every object needs apiVersion, kind and metadata`);
  }
  if (typeof metadata.name !== 'string' || metadata.name === '') {
    throw new RegattaError('INVALID_ARGUMENT', `${source}: ${doc.kind} without metadata.name`);
  }
  return doc as K8sObject;
}

/** `Kind/name` of an object, used in messages and lookups. */
export function objectId(obj: Pick<K8sObject, 'kind' | 'metadata'>): string {
  return `${obj.kind}/${obj.metadata.name}`;
}

/**
 * Renders a kustomization directory the way `kubectl kustomize` does for the fields Regatta uses:
 * resources (files and directories), namespace, images, strategic-merge patches (each must match
 * an existing object), replicas, configMapGenerator and secretGenerator (literals, files, envs;
 * behavior create/replace/merge). Generated names keep no hash suffix. An unsupported field, a
 * missing file or a patch that matches nothing is INVALID_ARGUMENT or NOT_FOUND.
 */
export function buildKustomization(dir: string, options: KustomizeOptions = {}): K8sObject[] {
  const read = options.readFile ?? defaultRead;
  const kfile = path.join(dir, 'kustomization.yaml');
  const k = parseYaml(read(kfile), kfile);
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key))
      throw new RegattaError('INVALID_ARGUMENT', `${kfile}: unsupported field "${key}"`);
  }

  let objects: K8sObject[] = [];
  for (const entry of list(k.resources, `${kfile} resources`)) {
    const target = path.resolve(dir, String(entry));
    if (existsSync(target) && statSync(target).isDirectory())
      objects.push(...buildKustomization(target, options));
    else objects.push(...parseYamlDocuments(read(target), target).map((d) => asObject(d, target)));
  }

  for (const gen of list(k.configMapGenerator, 'configMapGenerator')) {
    objects = applyGenerator(objects, generate('ConfigMap', gen, dir, read), gen);
  }
  for (const gen of list(k.secretGenerator, 'secretGenerator')) {
    objects = applyGenerator(objects, generate('Secret', gen, dir, read), gen);
  }

  for (const entry of list(k.patches, `${kfile} patches`)) {
    if (!isMap(entry) || typeof entry.path !== 'string' || entry.target !== undefined) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `${kfile}: only patches with a path (strategic merge) are supported`,
      );
    }
    const patchFile = path.resolve(dir, entry.path);
    for (const patch of parseYamlDocuments(read(patchFile), patchFile)) {
      const p = asObject(patch, patchFile);
      const index = objects.findIndex((o) => o.kind === p.kind && o.metadata.name === p.metadata.name);
      const found = objects[index];
      if (!found) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `${patchFile}: patch targets ${objectId(p)}, which does not exist`,
        );
      }
      if (found.apiVersion !== p.apiVersion) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `${patchFile}: patch for ${objectId(p)} says ${p.apiVersion}, the object is ${found.apiVersion}`,
        );
      }
      objects[index] = strategicMerge(found, p) as K8sObject;
    }
  }

  for (const entry of list(k.replicas, 'replicas')) {
    if (!isMap(entry) || typeof entry.name !== 'string' || typeof entry.count !== 'number') {
      throw new RegattaError('INVALID_ARGUMENT', `${kfile}: replicas entries need name and count`);
    }
    const target = findWorkload(objects, entry.name);
    if (!target || !isMap(target.spec)) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `${kfile}: replicas names ${entry.name}, which does not exist`,
      );
    }
    target.spec.replicas = entry.count;
  }

  for (const entry of list(k.images, 'images')) {
    if (!isMap(entry) || typeof entry.name !== 'string') {
      throw new RegattaError('INVALID_ARGUMENT', `${kfile}: images entries need a name`);
    }
    const used = setImages(objects, entry);
    if (!used)
      throw new RegattaError('INVALID_ARGUMENT', `${kfile}: image ${entry.name} is used by no container`);
  }

  if (typeof k.namespace === 'string') {
    for (const obj of objects) obj.metadata.namespace = k.namespace;
  }
  return objects;
}

function generate(
  kind: 'ConfigMap' | 'Secret',
  gen: unknown,
  dir: string,
  read: (f: string) => string,
): K8sObject {
  if (!isMap(gen) || typeof gen.name !== 'string') {
    throw new RegattaError('INVALID_ARGUMENT', `${kind} generator without a name`);
  }
  const data: Record<string, string> = {};
  for (const literal of list(gen.literals, `${gen.name} literals`)) {
    const text = String(literal);
    const eq = text.indexOf('=');
    if (eq <= 0)
      throw new RegattaError('INVALID_ARGUMENT', `${gen.name}: literal "${text}" is not KEY=value`);
    data[text.slice(0, eq)] = text.slice(eq + 1);
  }
  for (const file of list(gen.files, `${gen.name} files`)) {
    const spec = String(file);
    const eq = spec.indexOf('=');
    const key = eq > 0 ? spec.slice(0, eq) : path.basename(spec);
    data[key] = read(path.resolve(dir, eq > 0 ? spec.slice(eq + 1) : spec));
  }
  for (const file of list(gen.envs, `${gen.name} envs`)) {
    for (const line of read(path.resolve(dir, String(file))).split('\n')) {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      const eq = trimmed.indexOf('=');
      if (eq <= 0) throw new RegattaError('INVALID_ARGUMENT', `${gen.name}: "${trimmed}" is not KEY=value`);
      data[trimmed.slice(0, eq)] = trimmed.slice(eq + 1);
    }
  }
  const metadata = { name: gen.name };
  return kind === 'ConfigMap'
    ? { apiVersion: 'v1', kind, metadata, data }
    : {
        apiVersion: 'v1',
        kind,
        metadata,
        type: 'Opaque',
        data: Object.fromEntries(
          Object.entries(data).map(([key, v]) => [key, Buffer.from(v).toString('base64')]),
        ),
      };
}

function applyGenerator(objects: K8sObject[], generated: K8sObject, gen: unknown): K8sObject[] {
  const behavior = isMap(gen) && typeof gen.behavior === 'string' ? gen.behavior : 'create';
  const index = objects.findIndex(
    (o) => o.kind === generated.kind && o.metadata.name === generated.metadata.name,
  );
  const existing = objects[index];
  if (behavior === 'create') {
    if (existing) throw new RegattaError('INVALID_ARGUMENT', `${objectId(generated)} is generated twice`);
    return [...objects, generated];
  }
  if (!existing) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `${objectId(generated)} has behavior ${behavior} but no base to change`,
    );
  }
  const copy = [...objects];
  copy[index] =
    behavior === 'merge'
      ? {
          ...existing,
          data: { ...(isMap(existing.data) ? existing.data : {}), ...(generated.data as YamlMap) },
        }
      : generated;
  return copy;
}

/** Strategic merge of `patch` onto `base`: mappings merge, lists of named items merge by their key. */
export function strategicMerge(base: unknown, patch: unknown, field = ''): unknown {
  if (isMap(base) && isMap(patch)) {
    const out: YamlMap = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      if (key.startsWith('$'))
        throw new RegattaError('INVALID_ARGUMENT', `patch directive ${key} is not supported`);
      out[key] = value === null ? undefined : key in base ? strategicMerge(base[key], value, key) : value;
      if (value === null) delete out[key];
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch)) {
    const mergeKey = field === 'ports' ? portKey(base) : LIST_MERGE_KEYS[field];
    if (!mergeKey) return patch;
    const out: unknown[] = [...(base as unknown[])];
    const keyOf = (v: unknown): unknown => {
      if (!isMap(v)) return undefined;
      // volumeClaimTemplates are named in metadata; containers, env and volumes at the top.
      return mergeKey === 'name' && isMap(v.metadata) ? (v.metadata.name ?? v.name) : v[mergeKey];
    };
    for (const item of patch as unknown[]) {
      const at = out.findIndex(
        (existing) => keyOf(existing) !== undefined && keyOf(existing) === keyOf(item),
      );
      if (at >= 0) out[at] = strategicMerge(out[at], item);
      else out.push(item);
    }
    return out;
  }
  return patch;
}

function portKey(items: unknown[]): string {
  return items.some((p) => isMap(p) && 'containerPort' in p) ? 'containerPort' : 'port';
}

function setImages(objects: K8sObject[], entry: YamlMap): boolean {
  let used = false;
  for (const container of containersOf(objects)) {
    const image = typeof container.image === 'string' ? container.image : '';
    const [repo] = image.split(/[:@]/);
    if (repo !== entry.name) continue;
    used = true;
    const name = scalarText(entry.newName) || scalarText(entry.name);
    if (typeof entry.digest === 'string') container.image = `${name}@${entry.digest}`;
    else {
      const oldTag = image.includes(':') ? image.slice(image.lastIndexOf(':') + 1) : 'latest';
      container.image = `${name}:${entry.newTag === undefined ? oldTag : scalarText(entry.newTag)}`;
    }
  }
  return used;
}

/** The Deployment or StatefulSet named `name`, if there is one. */
export function findWorkload(objects: readonly K8sObject[], name: string): K8sObject | undefined {
  return objects.find(
    (o) => (o.kind === 'Deployment' || o.kind === 'StatefulSet') && o.metadata.name === name,
  );
}

/** The pod template spec of a workload (Deployment, StatefulSet, DaemonSet, Job), if it has one. */
export function podSpecOf(obj: K8sObject): YamlMap | undefined {
  const spec = obj.spec;
  if (!isMap(spec) || !isMap(spec.template) || !isMap(spec.template.spec)) return undefined;
  return spec.template.spec;
}

/** Every container (init containers included) of every workload in `objects`. */
export function containersOf(objects: readonly K8sObject[]): YamlMap[] {
  const out: YamlMap[] = [];
  for (const obj of objects) {
    const pod = podSpecOf(obj);
    if (!pod) continue;
    for (const field of ['initContainers', 'containers']) {
      for (const c of Array.isArray(pod[field]) ? pod[field] : []) if (isMap(c)) out.push(c);
    }
  }
  return out;
}
