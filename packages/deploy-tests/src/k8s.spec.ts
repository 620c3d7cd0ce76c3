import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { checkGatewayConfig, type GatewayConfig } from '@regatta/gateway';
import { checkEnvironment, resolveContainerEnvironment } from './environment.js';
import { buildKustomization, containersOf, findWorkload, podSpecOf, type K8sObject } from './kustomize.js';
import { isMap, parseYaml, readRepoFile, repoPath, type YamlMap } from './repo.js';
import { APPS, extraVariables, type AppUnderTest } from './testing/apps.js';
import { kubernetesSchemaProblems } from './testing/schemas.js';

const K8S = repoPath('infrastructure/k8s');

/** Files the prod overlay expects an operator to write; the test reads their committed examples. */
function withExamples(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8');
  if (existsSync(`${file}.example`)) return readFileSync(`${file}.example`, 'utf8');
  throw new Error(`${file} does not exist (and has no .example)`);
}

const OVERLAYS = {
  dev: buildKustomization(path.join(K8S, 'overlays/dev')),
  prod: buildKustomization(path.join(K8S, 'overlays/prod'), { readFile: withExamples }),
};
type OverlayName = keyof typeof OVERLAYS;

const get = (objects: readonly K8sObject[], kind: string, name: string): K8sObject => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} is missing`);
  return found;
};
const spec = (obj: K8sObject): YamlMap => (isMap(obj.spec) ? obj.spec : {});
const podLabels = (obj: K8sObject): Record<string, string> => {
  const template = spec(obj).template;
  return isMap(template) && isMap(template.metadata)
    ? (template.metadata.labels as Record<string, string>)
    : {};
};
const selectorLabels = (obj: K8sObject): unknown => {
  const selector = spec(obj).selector;
  return isMap(selector) ? selector.matchLabels : undefined;
};
const matches = (selector: unknown, labels: Record<string, string>) =>
  isMap(selector) && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The Deployment or StatefulSet that runs an app. */
const workloadOf = (objects: readonly K8sObject[], name: string): K8sObject => {
  const found = findWorkload(objects, name);
  if (!found) throw new Error(`no Deployment or StatefulSet named ${name}`);
  return found;
};

function appContainer(objects: readonly K8sObject[], name: string): YamlMap {
  const workload = workloadOf(objects, name);
  const container = containersOf([workload]).find((c) => c.name === name);
  if (!container) throw new Error(`${workload.kind}/${name} has no container named ${name}`);
  return container;
}

function appConfig(objects: readonly K8sObject[], app: AppUnderTest): Record<string, unknown> {
  const { env, problems } = resolveContainerEnvironment(appContainer(objects, app.name), objects);
  if (problems.length > 0) throw new Error(problems.join('\n'));
  const check = checkEnvironment(app.spec, env, extraVariables(app.name));
  if (!check.ok) throw new Error(check.problems.join('\n'));
  return check.config;
}

const cases = (Object.keys(OVERLAYS) as OverlayName[]).flatMap((overlay) =>
  APPS.map((app) => [overlay, app.name, app] as const),
);

describe('Kubernetes manifests', () => {
  it.each(Object.keys(OVERLAYS) as OverlayName[])(
    '%s: every object matches the Kubernetes 1.27 schema',
    (overlay) => {
      expect(OVERLAYS[overlay].flatMap(kubernetesSchemaProblems)).toEqual([]);
    },
  );

  it('the schema check rejects a malformed object', () => {
    const broken = structuredClone(get(OVERLAYS.dev, 'Deployment', 'inference'));
    (podSpecOf(broken)!.containers as YamlMap[])[0]!.ports = [{ containerPort: 'eighty' }];
    expect(kubernetesSchemaProblems(broken).join('\n')).toMatch(/containerPort must be integer/);
  });

  it.each(cases)(
    '%s/%s: workload, Service, HorizontalPodAutoscaler and PodDisruptionBudget agree',
    (overlay, name) => {
      const objects = OVERLAYS[overlay];
      const workload = workloadOf(objects, name);
      const labels = podLabels(workload);
      expect(matches(selectorLabels(workload), labels)).toBe(true);

      const service = get(objects, 'Service', name);
      expect(matches(spec(service).selector, labels)).toBe(true);
      const portNames = ((appContainer(objects, name).ports as YamlMap[]) ?? []).map((p) => p.name);
      for (const port of spec(service).ports as YamlMap[]) expect(portNames).toContain(port.targetPort);

      const pdb = get(objects, 'PodDisruptionBudget', name);
      expect(matches(selectorLabels(pdb), labels)).toBe(true);
      expect(spec(pdb).maxUnavailable).toBe(1);

      const hpa = spec(get(objects, 'HorizontalPodAutoscaler', name));
      expect(hpa.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: workload.kind, name });
      expect(Number(hpa.minReplicas)).toBeLessThanOrEqual(Number(hpa.maxReplicas));
      const metrics = hpa.metrics as YamlMap[];
      expect(metrics.some((m) => isMap(m.resource) && m.resource.name === 'cpu')).toBe(true);
      expect(metrics.some((m) => m.type === 'Pods')).toBe(true);
    },
  );

  it.each(cases)(
    '%s/%s: probes /ready and /health on the port the app serves health on',
    (overlay, name, app) => {
      const objects = OVERLAYS[overlay];
      const container = appContainer(objects, name);
      const config = appConfig(objects, app);
      const portOf = (probe: unknown): number | undefined => {
        const get = isMap(probe) && isMap(probe.httpGet) ? probe.httpGet : undefined;
        const port = get?.port;
        if (typeof port === 'number') return port;
        const named = (container.ports as YamlMap[]).find((p) => p.name === port);
        return typeof named?.containerPort === 'number' ? named.containerPort : undefined;
      };
      const pathOf = (probe: unknown) =>
        isMap(probe) && isMap(probe.httpGet) ? probe.httpGet.path : undefined;
      expect(pathOf(container.readinessProbe)).toBe('/ready');
      expect(pathOf(container.livenessProbe)).toBe('/health');
      expect(portOf(container.readinessProbe)).toBe(config[app.healthPortVariable]);
      expect(portOf(container.livenessProbe)).toBe(config[app.healthPortVariable]);
      // Every listening port the config opens is declared on the container, and nothing else.
      const declared = (container.ports as YamlMap[]).map((p) => p.containerPort).sort();
      const listening = app.listenPortVariables
        .map((v) => config[v])
        .filter((p) => typeof p === 'number' && p > 0);
      expect(declared).toEqual([...listening].sort());
    },
  );

  it.each(cases)('%s/%s: has CPU and memory requests and limits, and runs as non-root', (overlay, name) => {
    const container = appContainer(OVERLAYS[overlay], name);
    const resources = container.resources as { requests?: YamlMap; limits?: YamlMap };
    for (const kind of ['requests', 'limits'] as const) {
      expect(resources[kind]).toHaveProperty('cpu');
      expect(resources[kind]).toHaveProperty('memory');
    }
    const pod = podSpecOf(workloadOf(OVERLAYS[overlay], name));
    expect(isMap(pod?.securityContext) && pod.securityContext.runAsNonRoot).toBe(true);
  });

  // The apps that spool rows Postgres has not confirmed at shutdown (usage ledger, decision log) under
  // REGATTA_DATA_DIR, and write them on their next start.
  const spooling = (Object.keys(OVERLAYS) as OverlayName[]).flatMap((overlay) =>
    APPS.filter((a) => a.name === 'gateway' || a.name === 'llm-proxy').map(
      (app) => [overlay, app.name, app] as const,
    ),
  );
  it.each(spooling)(
    '%s/%s: keeps its spool on a claim of its own that outlives the pod',
    (overlay, _name, app) => {
      const objects = OVERLAYS[overlay];
      const workload = workloadOf(objects, app.name);
      expect(workload.kind).toBe('StatefulSet');
      const { env } = resolveContainerEnvironment(appContainer(objects, app.name), objects);
      const config = appConfig(objects, app);
      // The ledger's spool is under the data directory unless LLM_LEDGER_SPOOL_DIR moves it.
      expect(env.LLM_LEDGER_SPOOL_DIR).toBeUndefined();
      const mount = (appContainer(objects, app.name).volumeMounts as YamlMap[]).find(
        (m) => m.mountPath === config.REGATTA_DATA_DIR,
      );
      expect(mount).toBeDefined();
      const pod = podSpecOf(workload)!;
      // Not a pod volume (an emptyDir goes when the pod goes): one of the StatefulSet's claims.
      expect(((pod.volumes as YamlMap[] | undefined) ?? []).map((v) => v.name)).not.toContain(mount!.name);
      const claims = spec(workload).volumeClaimTemplates as K8sObject[];
      const claim = claims.find((c) => c.metadata.name === mount!.name);
      expect(claim).toBeDefined();
      expect(spec(claim!).accessModes).toEqual(['ReadWriteOnce']);
      expect(spec(workload).persistentVolumeClaimRetentionPolicy).toEqual({
        whenDeleted: 'Retain',
        whenScaled: 'Retain',
      });
    },
  );

  it.each(cases)(
    '%s/%s: the container environment is accepted by the app config spec',
    (overlay, name, app) => {
      const objects = OVERLAYS[overlay];
      const { env, problems } = resolveContainerEnvironment(appContainer(objects, name), objects);
      expect(problems).toEqual([]);
      const check = checkEnvironment(app.spec, env, extraVariables(name));
      expect(check.ok ? [] : check.problems).toEqual([]);
      expect(check.unknown).toEqual([]);
      if (name === 'gateway' && check.ok) {
        expect(() => checkGatewayConfig(check.config as GatewayConfig, 'distributed')).not.toThrow();
      }
      for (const value of Object.values(env)) {
        if (!/^postgres(ql)?:\/\//.test(value)) continue;
        const url = new URL(value);
        expect([url.hostname, url.port]).toEqual(['pgbouncer', '6432']);
      }
    },
  );

  it.each(Object.keys(OVERLAYS) as OverlayName[])(
    '%s: the gateway refuses to start without an admin key in production',
    (overlay) => {
      const objects = OVERLAYS[overlay];
      const { env } = resolveContainerEnvironment(appContainer(objects, 'gateway'), objects);
      const gateway = APPS.find((a) => a.name === 'gateway')!;
      const check = checkEnvironment(gateway.spec, {
        ...env,
        ENVIRONMENT: 'production',
        REGATTA_ADMIN_KEY: '',
      });
      expect(check.ok).toBe(true);
      if (check.ok)
        expect(() => checkGatewayConfig(check.config as GatewayConfig, 'distributed')).toThrow(
          /REGATTA_ADMIN_KEY/,
        );
    },
  );

  it('scales each app on a custom metric prometheus-adapter serves', () => {
    const adapter = parseYaml(
      readRepoFile('infrastructure/k8s/prometheus-adapter/values.yaml'),
      'values.yaml',
    );
    const rules = (isMap(adapter.rules) ? adapter.rules.custom : []) as YamlMap[];
    const served = rules.map((r) => (isMap(r.name) ? r.name.as : undefined));
    for (const app of APPS) {
      const hpa = spec(get(OVERLAYS.prod, 'HorizontalPodAutoscaler', app.name));
      for (const metric of (hpa.metrics as YamlMap[]).filter((m) => m.type === 'Pods')) {
        const name = isMap(metric.pods) && isMap(metric.pods.metric) ? metric.pods.metric.name : undefined;
        expect([app.name, served]).toEqual([app.name, expect.arrayContaining([name])]);
      }
    }
    const inference = spec(get(OVERLAYS.prod, 'HorizontalPodAutoscaler', 'inference'));
    expect(JSON.stringify(inference.metrics)).toContain('inference_pending_requests');
  });
});

describe('NATS, Redis, Postgres and PgBouncer in Kubernetes', () => {
  const objects = OVERLAYS.prod;

  it('runs NATS as a 3-node cluster whose routes name its own pods', () => {
    const nats = get(objects, 'StatefulSet', 'nats');
    expect(spec(nats).replicas).toBe(3);
    const headless = spec(get(objects, 'Service', String(spec(nats).serviceName)));
    expect(headless.clusterIP).toBe('None');
    const conf = String(
      get(objects, 'ConfigMap', 'nats-config').data &&
        (get(objects, 'ConfigMap', 'nats-config').data as YamlMap)['nats.conf'],
    );
    const routes = [...conf.matchAll(/nats:\/\/([a-z0-9-]+)\.([a-z0-9-]+):(\d+)/g)].map((m) => [
      m[1],
      m[2],
      m[3],
    ]);
    expect(routes).toEqual([0, 1, 2].map((i) => [`nats-${i}`, spec(nats).serviceName, '6222']));
    expect(conf).toMatch(/jetstream\s*\{/);
    const config = get(objects, 'ConfigMap', 'regatta-config').data as YamlMap;
    const url = new URL(String(config.NATS_URL));
    const client = spec(get(objects, 'Service', url.hostname));
    expect((client.ports as YamlMap[]).map((p) => p.port)).toContain(Number(url.port));
  });

  it('points REDIS_URL at the Redis Service', () => {
    const config = get(objects, 'ConfigMap', 'regatta-config').data as YamlMap;
    const url = new URL(String(config.REDIS_URL));
    expect((spec(get(objects, 'Service', url.hostname)).ports as YamlMap[]).map((p) => p.port)).toContain(
      Number(url.port),
    );
  });

  it('lets only PgBouncer pods connect to Postgres', () => {
    const policy = spec(get(objects, 'NetworkPolicy', 'postgres-from-pgbouncer-only'));
    expect(
      matches(
        isMap(policy.podSelector) ? policy.podSelector.matchLabels : undefined,
        podLabels(get(objects, 'StatefulSet', 'postgres')),
      ),
    ).toBe(true);
    const from = (policy.ingress as YamlMap[]).flatMap((rule) => rule.from as YamlMap[]);
    expect(from).toHaveLength(1);
    const selector = isMap(from[0]?.podSelector) ? from[0].podSelector.matchLabels : undefined;
    expect(matches(selector, podLabels(get(objects, 'Deployment', 'pgbouncer')))).toBe(true);
    for (const app of APPS) expect(matches(selector, podLabels(workloadOf(objects, app.name)))).toBe(false);
  });

  it('mounts pgbouncer.ini and the userlist where the ini expects them', () => {
    const pod = podSpecOf(get(objects, 'Deployment', 'pgbouncer'))!;
    const container = (pod.containers as YamlMap[])[0]!;
    const mount = (container.volumeMounts as YamlMap[]).find((m) => m.name === 'config');
    const ini = String((get(objects, 'ConfigMap', 'pgbouncer-config').data as YamlMap)['pgbouncer.ini']);
    expect(ini).toContain(`auth_file = ${String(mount?.mountPath)}/userlist.txt`);
    const secret = get(objects, 'Secret', 'pgbouncer-userlist').data as YamlMap;
    expect(Object.keys(secret)).toEqual(['userlist.txt']);
  });
});

describe('kustomize overlays', () => {
  it('keep the server configuration identical to the files docker-compose mounts', () => {
    for (const [copy, original] of [
      ['infrastructure/k8s/base/pgbouncer/pgbouncer.ini', 'infrastructure/pgbouncer/pgbouncer.ini'],
      ['infrastructure/k8s/base/postgres/postgresql.conf', 'infrastructure/postgres/postgresql.conf'],
      ['infrastructure/k8s/base/redis/redis.conf', 'infrastructure/redis/redis.conf'],
      ['infrastructure/k8s/overlays/dev/userlist.txt', 'infrastructure/pgbouncer/userlist.txt'],
    ] as const) {
      expect([copy, readRepoFile(copy)]).toEqual([copy, readRepoFile(original)]);
    }
    const cluster = readRepoFile('infrastructure/k8s/base/nats/nats.conf');
    for (const line of readRepoFile('infrastructure/nats/nats.conf').split('\n')) {
      if (/^\s*(#|$|server_name)/.test(line)) continue;
      expect(cluster).toContain(line);
    }
  });

  it('prod reads its secrets from files the operator writes, which git ignores', () => {
    const prod = path.join(K8S, 'overlays/prod');
    const k = parseYaml(readFileSync(path.join(prod, 'kustomization.yaml'), 'utf8'), 'prod');
    const ignored = readFileSync(path.join(prod, '.gitignore'), 'utf8').split('\n');
    const files = (k.secretGenerator as YamlMap[]).flatMap((g) => [
      ...((g.envs as string[]) ?? []),
      ...((g.files as string[]) ?? []),
    ]);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      expect(ignored).toContain(file);
      expect(existsSync(path.join(prod, `${file}.example`))).toBe(true);
    }
    expect((k.secretGenerator as YamlMap[]).every((g) => g.literals === undefined)).toBe(true);
  });

  it('prod pins every Regatta image to a release tag', () => {
    for (const container of containersOf(OVERLAYS.prod)) {
      const image = String(container.image);
      if (!image.startsWith('regatta/')) continue;
      expect(image).toMatch(/:\d+\.\d+\.\d+$/);
    }
  });

  it('dev runs one replica per app and development settings', () => {
    for (const app of APPS) {
      expect(spec(workloadOf(OVERLAYS.dev, app.name)).replicas).toBe(1);
      expect(spec(get(OVERLAYS.dev, 'HorizontalPodAutoscaler', app.name)).minReplicas).toBe(1);
    }
    expect((get(OVERLAYS.dev, 'ConfigMap', 'regatta-config').data as YamlMap).ENVIRONMENT).toBe(
      'development',
    );
    expect(OVERLAYS.dev.every((o) => o.metadata.namespace === 'regatta-dev')).toBe(true);
    expect(OVERLAYS.prod.every((o) => o.metadata.namespace === 'regatta')).toBe(true);
  });

  it('prod gives inference more ONNX workers and the cores to run them', () => {
    const container = appContainer(OVERLAYS.prod, 'inference');
    const env = container.env as YamlMap[];
    expect(env.filter((e) => e.name === 'INFERENCE_WORKERS')).toEqual([
      { name: 'INFERENCE_WORKERS', value: '3' },
    ]);
    expect(
      isMap(container.resources) && isMap(container.resources.limits) && container.resources.limits.cpu,
    ).toBe('4');
    // The merge kept the base variables next to the patched one.
    expect(env.map((e) => e.name)).toContain('MODEL_REPOSITORY');
  });
});
