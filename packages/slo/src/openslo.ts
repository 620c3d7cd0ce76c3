import { stringify } from 'yaml';
import { SLOS, type SloDefinition } from './definitions.js';
import { costPerDecisionQuery, costPerMauQuery, ratioSelectors } from './promql.js';

// OpenSLO v1 is the portable form of the definitions: any OpenSLO tool (oslo, Nobl9, Sloth's importer)
// can read what Regatta promises without reading TypeScript.

/** One OpenSLO v1 document (Service or SLO). */
export interface OpenSloDocument {
  apiVersion: 'openslo/v1';
  kind: 'Service' | 'SLO';
  metadata: { name: string; displayName: string };
  spec: Record<string, unknown>;
}

const SERVICE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  gateway: 'HTTP front door of the Regatta decision fleet',
  inference: 'ONNX model serving with dynamic batching',
  'llm-proxy': 'LLM gateway with caching, coalescing and cost tracking',
  regatta: 'The Regatta fleet as a whole',
};

function prometheus(query: string) {
  return { metricSource: { type: 'Prometheus', spec: { query } } };
}

function sloDocument(slo: SloDefinition): OpenSloDocument {
  const common = {
    description: slo.description,
    service: slo.service,
    timeWindow: [{ duration: slo.window, isRolling: true }],
    budgetingMethod: 'Occurrences',
  };
  const metadata = { name: slo.id, displayName: slo.displayName };
  if (slo.kind === 'ratio') {
    // counter: true means the queries are raw counters; the tool takes the rates itself.
    const s = ratioSelectors(slo);
    const ratioMetric: Record<string, unknown> = { counter: true };
    if (s.good) ratioMetric.good = prometheus(`sum(${s.good})`);
    if (s.bad) ratioMetric.bad = prometheus(`sum(${s.bad})`);
    ratioMetric.total = prometheus(`sum(${s.total})`);
    return {
      apiVersion: 'openslo/v1',
      kind: 'SLO',
      metadata,
      spec: {
        ...common,
        indicator: { metadata: { name: `${slo.id}-sli` }, spec: { ratioMetric } },
        objectives: [{ displayName: slo.displayName, target: slo.objective }],
      },
    };
  }
  const query =
    slo.sli.kind === 'cost-per-mau' ? costPerMauQuery(slo.sli) : costPerDecisionQuery(slo.sli, '1h');
  return {
    apiVersion: 'openslo/v1',
    kind: 'SLO',
    metadata,
    spec: {
      ...common,
      indicator: { metadata: { name: `${slo.id}-sli` }, spec: { thresholdMetric: prometheus(query) } },
      objectives: [
        {
          displayName: slo.displayName,
          op: slo.threshold.op,
          value: slo.threshold.value,
          target: slo.target,
        },
      ],
    },
  };
}

/** Every SLO (and the services they belong to) as OpenSLO v1 objects. */
export function toOpenSloDocuments(slos: readonly SloDefinition[] = SLOS): OpenSloDocument[] {
  const services = [...new Set(slos.map((s) => s.service))].map((name): OpenSloDocument => ({
    apiVersion: 'openslo/v1',
    kind: 'Service',
    metadata: { name, displayName: name },
    spec: { description: SERVICE_DESCRIPTIONS[name] ?? name },
  }));
  return [...services, ...slos.map(sloDocument)];
}

/** Every SLO as a multi-document OpenSLO v1 YAML stream. */
export function toOpenSlo(slos: readonly SloDefinition[] = SLOS): string {
  return toOpenSloDocuments(slos)
    .map((doc) => stringify(doc, { lineWidth: 0 }))
    .join('---\n');
}
