import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { SLOS } from './definitions.js';
import { toOpenSlo } from './openslo.js';

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    service?: string;
    budgetingMethod?: string;
    timeWindow?: Array<{ duration: string; isRolling: boolean }>;
    objectives?: Array<Record<string, unknown>>;
    indicator?: { spec: Record<string, Record<string, unknown>> };
  };
}

const docs = (): Doc[] => parseAllDocuments(toOpenSlo()).map((d) => d.toJS() as Doc);
const slo = (name: string): Doc => docs().find((d) => d.kind === 'SLO' && d.metadata.name === name)!;
const query = (source: unknown): unknown =>
  (source as { metricSource: { spec: { query: string } } }).metricSource.spec.query;

describe('toOpenSlo', () => {
  it('writes one openslo/v1 SLO document per SLO plus its services', () => {
    const all = docs();
    expect(all.every((d) => d.apiVersion === 'openslo/v1')).toBe(true);
    expect(all.filter((d) => d.kind === 'SLO').map((d) => d.metadata.name)).toEqual(SLOS.map((s) => s.id));
    const services = all.filter((d) => d.kind === 'Service').map((d) => d.metadata.name);
    for (const s of SLOS) expect(services).toContain(s.service);
  });

  it('describes ratio SLOs with counters, a 30-day rolling window and the objective as target', () => {
    const doc = slo('api-availability');
    expect(doc.spec).toMatchObject({
      service: 'gateway',
      budgetingMethod: 'Occurrences',
      timeWindow: [{ duration: '30d', isRolling: true }],
      objectives: [{ target: 0.999 }],
    });
    const ratio = doc.spec.indicator!.spec.ratioMetric!;
    expect(ratio.counter).toBe(true);
    expect(query(ratio.bad)).toBe('sum(api_requests_total{status_code=~"5.."})');
    expect(query(ratio.total)).toBe('sum(api_requests_total)');
  });

  it('expresses latency SLIs as the bucket at the threshold over the count', () => {
    const ratio = slo('api-latency-p95').spec.indicator!.spec.ratioMetric!;
    expect(query(ratio.good)).toBe('sum(api_request_duration_seconds_bucket{le="0.08"})');
    expect(query(ratio.total)).toBe('sum(api_request_duration_seconds_count)');
    expect(slo('inference-latency-p95').spec.objectives).toEqual([
      { displayName: 'Inference p95 latency <= 50 ms', target: 0.95 },
    ]);
  });

  it('expresses cost SLOs as threshold metrics with op/value', () => {
    const doc = slo('cost-per-decision');
    expect(doc.spec.objectives).toEqual([expect.objectContaining({ op: 'lte', value: 0.01, target: 0.99 })]);
    expect(query(doc.spec.indicator!.spec.thresholdMetric)).toMatch(/decision_cpu_seconds_total/);
  });
});
