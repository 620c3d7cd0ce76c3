import { describe, expect, it } from '@jest/globals';
import { median, summarize } from './stats.js';

describe(summarize.name, () => {
  it('reports nearest-rank percentiles of the samples', () => {
    const samples = Array.from({ length: 1000 }, (_, i) => i + 1);
    const s = summarize(samples);
    expect([s.p50, s.p90, s.p99, s.p999, s.max]).toEqual([500, 900, 990, 999, 1000]);
    expect(s.mean).toBeCloseTo(500.5);
  });

  it('is NaN, not zero, without samples', () => {
    expect(summarize([]).p50).toBeNaN();
  });
});

describe(median.name, () => {
  it('takes the middle value or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
