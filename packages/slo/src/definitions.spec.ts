import { describe, expect, it } from '@jest/globals';
import { LATENCY_BUCKETS } from '@regatta/telemetry';
import { SLOS, SLO_IDS, errorBudget, getSlo, maxBurnRate, ratioSlos, type RatioSlo } from './definitions.js';

const ratio = (id: (typeof SLO_IDS)[number]) => getSlo(id) as RatioSlo;

describe('SLOS', () => {
  it('defines every SLO id exactly once', () => {
    expect(SLOS.map((s) => s.id).sort()).toEqual([...SLO_IDS].sort());
  });

  it('puts every latency threshold on a LATENCY_BUCKETS boundary', () => {
    const thresholds = ratioSlos().flatMap((s) => (s.sli.kind === 'latency' ? [s.sli.thresholdSeconds] : []));
    expect(thresholds.sort()).toEqual([0.025, 0.05, 0.08]);
    for (const t of thresholds) expect(LATENCY_BUCKETS).toContain(t);
  });

  it('states the promised targets', () => {
    expect(ratio('api-latency-p50').objective).toBe(0.5);
    expect(ratio('api-latency-p95').objective).toBe(0.95);
    expect(ratio('inference-latency-p95').objective).toBe(0.95);
    expect(ratio('api-availability').objective).toBe(0.999);
    expect(ratio('cache-hit-rate').objective).toBe(0.3);
    expect(getSlo('llm-cost-per-mau')).toMatchObject({ threshold: { op: 'lte', value: 0.05 } });
    expect(getSlo('cost-per-decision')).toMatchObject({ threshold: { op: 'lte', value: 0.01 } });
    expect(SLOS.every((s) => s.window === '30d')).toBe(true);
  });
});

describe('maxBurnRate', () => {
  it('is 1 / (1 - objective): 2x for p50, 20x for p95, 1000x for 99.9%', () => {
    expect(maxBurnRate(ratio('api-latency-p50'))).toBeCloseTo(2, 10);
    expect(maxBurnRate(ratio('api-latency-p95'))).toBeCloseTo(20, 10);
    expect(maxBurnRate(ratio('api-availability'))).toBeCloseTo(1000, 10);
  });
});

describe('errorBudget', () => {
  it('hides float noise', () => {
    expect(errorBudget(ratio('api-availability'))).toBe(0.001);
    expect(errorBudget(ratio('cache-hit-rate'))).toBe(0.7);
  });
});
