import { describe, expect, it } from '@jest/globals';

import { CostModel } from './cost-model.js';

describe(CostModel.name, () => {
  describe('observe', () => {
    it('recovers a and b of t = a + b·n from exact observations', () => {
      const model = new CostModel(64, 4);
      for (const n of [1, 8, 32, 128, 512]) model.observe(n, 20e-6 + 0.1e-6 * n);
      expect(model.fixedSeconds).toBeCloseTo(20e-6, 10);
      expect(model.perRowSeconds).toBeCloseTo(0.1e-6, 12);
      expect(model.predict(256)).toBeCloseTo(20e-6 + 25.6e-6, 10);
    });

    it('forgets executions older than the window', () => {
      const model = new CostModel(4, 2);
      for (const n of [1, 2, 3, 4]) model.observe(n, 1 + n); // a = 1, b = 1
      for (const n of [1, 2, 3, 4]) model.observe(n, 0.5); // a = 0.5, b = 0 once the old ones are gone
      expect(model.fixedSeconds).toBeCloseTo(0.5, 10);
      expect(model.perRowSeconds).toBeCloseTo(0, 10);
      expect(model.samples).toBe(4);
    });

    it('is not ready before minSamples executions', () => {
      const model = new CostModel(8, 3);
      model.observe(1, 0.001);
      model.observe(2, 0.001);
      expect(model.ready).toBe(false);
      model.observe(3, 0.001);
      expect(model.ready).toBe(true);
    });

    it('treats all cost as fixed when only one batch size was seen', () => {
      const model = new CostModel(8, 2);
      model.observe(4, 0.002);
      model.observe(4, 0.004);
      expect(model.fixedSeconds).toBeCloseTo(0.003, 10);
      expect(model.perRowSeconds).toBe(0);
    });

    it('never predicts negative costs from noisy observations', () => {
      const model = new CostModel(8, 2);
      model.observe(1, 0.01);
      model.observe(100, 0.001); // bigger batch faster: noise, not a negative per-row cost
      expect(model.perRowSeconds).toBeGreaterThanOrEqual(0);
      expect(model.fixedSeconds).toBeGreaterThanOrEqual(0);

      const steep = new CostModel(8, 2);
      steep.observe(10, 0.0001);
      steep.observe(20, 0.01); // fitted line crosses zero: refit through the origin
      expect(steep.fixedSeconds).toBe(0);
      expect(steep.perRowSeconds).toBeGreaterThan(0);
    });
  });
});
