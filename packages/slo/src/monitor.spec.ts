import { afterEach, describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { DEFAULT_VCPU_SECOND_USD } from './cost.js';
import { OTHER_TENANT, SloMonitor, getSloMonitor, monthOf, resetSloMonitor } from './monitor.js';
import { SloSnapshot, mergeSnapshots, mergeStats, statsFromSnapshot } from './snapshot.js';

const MINUTE = 60_000;
const START = Date.UTC(2026, 10, 15, 12, 0, 0);

function clock(start = START) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** The exact nearest-rank percentile of `values`. */
function exactPercentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** `value` with every fractional number matched to 12 decimals (sums of floats depend on their order). */
function approximately(value: unknown): unknown {
  if (typeof value === 'number' && !Number.isInteger(value)) return expect.closeTo(value, 12);
  if (Array.isArray(value)) return value.map(approximately);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, approximately(v)]));
  }
  return value;
}

function invalid(fn: () => unknown): RegattaError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RegattaError);
    expect((err as RegattaError).code).toBe('INVALID_ARGUMENT');
    return err as RegattaError;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe(SloMonitor.name, () => {
  afterEach(() => resetSloMonitor());

  describe('getSloMonitor', () => {
    it('reports api_p50_ms after a single recordApi(25.0, true)', () => {
      getSloMonitor().recordApi(25.0, true);
      const stats = getSloMonitor().getStats();
      expect(stats.api_p50_ms).toBeCloseTo(25, 1);
      expect(stats.api_requests).toBe(1);
      expect(stats.success_rate).toBe(1);
    });

    it('returns the same monitor on every call', () => {
      expect(getSloMonitor()).toBe(getSloMonitor());
    });
  });

  describe('getStats', () => {
    it('reports nulls, not zeros, before anything is recorded', () => {
      const stats = new SloMonitor({ now: clock().now }).getStats();
      expect(stats.api_p50_ms).toBeNull();
      expect(stats.success_rate).toBeNull();
      expect(stats.cache_hit_rate).toBeNull();
      expect(stats.cost_per_decision_usd).toBeNull();
      expect(stats.llm_cost_per_mau_usd).toBeNull();
      expect(Object.values(stats.error_budget_remaining).every((v) => v === null)).toBe(true);
    });

    it('computes percentiles within HDR precision (0.1%)', () => {
      const monitor = new SloMonitor({ now: clock().now });
      const values: number[] = [];
      // A skewed distribution between 0.2 ms and ~2 s, like request latencies.
      for (let i = 1; i <= 20_000; i++) {
        const ms = 0.2 + (i % 997) ** 2 / 500;
        values.push(ms);
        monitor.recordApi(ms, true);
        monitor.recordInference(ms / 2);
      }
      const stats = monitor.getStats();
      for (const [got, p] of [
        [stats.api_p50_ms, 50],
        [stats.api_p95_ms, 95],
        [stats.api_p99_ms, 99],
      ] as const) {
        const want = exactPercentile(values, p);
        expect(Math.abs(got! - want) / want).toBeLessThanOrEqual(0.001);
      }
      const inferenceWant = exactPercentile(values, 95) / 2;
      expect(Math.abs(stats.inference_p95_ms! - inferenceWant) / inferenceWant).toBeLessThanOrEqual(0.001);
    });

    it('clamps latencies past 60 s instead of failing', () => {
      const monitor = new SloMonitor({ now: clock().now });
      monitor.recordApi(3_600_000, false);
      expect(monitor.getStats().api_p99_ms).toBeCloseTo(60_000, -2);
    });

    it('drops sub-windows older than the rolling window (injected clock)', () => {
      const c = clock();
      const monitor = new SloMonitor({ now: c.now, slotMs: MINUTE, slots: 10 });
      monitor.recordApi(500, false);
      c.advance(MINUTE);
      monitor.recordApi(10, true);
      c.advance(8 * MINUTE);
      // Both sub-windows are still inside the 10-minute window.
      expect(monitor.getStats().api_requests).toBe(2);
      expect(monitor.getStats().success_rate).toBe(0.5);
      c.advance(MINUTE);
      // The first sub-window has left the window; the slow failure no longer counts.
      const stats = monitor.getStats();
      expect(stats.api_requests).toBe(1);
      expect(stats.success_rate).toBe(1);
      expect(stats.api_p99_ms).toBeCloseTo(10, 1);
      c.advance(10 * MINUTE);
      expect(monitor.getStats().api_requests).toBe(0);
    });

    it('clears a reused slot before recording into it', () => {
      const c = clock();
      const monitor = new SloMonitor({ now: c.now, slotMs: MINUTE, slots: 2 });
      monitor.recordCache(false);
      c.advance(2 * MINUTE); // same slot index, next lap
      monitor.recordCache(true);
      expect(monitor.getStats().cache_requests).toBe(1);
      expect(monitor.getStats().cache_hit_rate).toBe(1);
    });

    it('computes the success rate and cache hit rate', () => {
      const monitor = new SloMonitor({ now: clock().now });
      for (let i = 0; i < 1000; i++) monitor.recordApi(5, i % 250 !== 0);
      for (let i = 0; i < 10; i++) monitor.recordCache(i < 3);
      const stats = monitor.getStats();
      expect(stats.success_rate).toBeCloseTo(0.996, 10);
      expect(stats.cache_hit_rate).toBeCloseTo(0.3, 10);
      expect(stats.cache_requests).toBe(10);
    });

    it('prices a decision as LLM spend plus CPU seconds at the vCPU-second price', () => {
      const monitor = new SloMonitor({ now: clock().now, vcpuSecondUsd: 0.0001 });
      monitor.recordDecision(0.5);
      monitor.recordDecision(1.5);
      monitor.recordLlmCost(0.004, 'acme', 'u1');
      const stats = monitor.getStats();
      expect(stats.decisions).toBe(2);
      expect(stats.compute_cost_usd).toBeCloseTo(0.0002, 12);
      expect(stats.cost_per_decision_usd).toBeCloseTo((0.004 + 2 * 0.0001) / 2, 12);
      expect(stats.error_budget_remaining['cost-per-decision']).toBeCloseTo(1 - 0.0021 / 0.01, 10);
    });

    it('uses the documented AWS vCPU-second price by default', () => {
      const monitor = new SloMonitor({ now: clock().now });
      monitor.recordCost({ cpuSeconds: 3600, decisions: 1 });
      expect(monitor.getStats().cost_per_decision_usd).toBeCloseTo(0.04048, 10);
      expect(DEFAULT_VCPU_SECOND_USD).toBeCloseTo(0.0000112444, 10);
    });

    it('divides this month’s LLM spend by distinct active users, counting each user once', () => {
      const monitor = new SloMonitor({ now: clock().now });
      for (let i = 0; i < 30; i++) monitor.recordLlmCost(0.01, 'acme', `user-${i % 10}`);
      monitor.recordActiveUser('globex', 'user-0'); // same id, other tenant: another person
      const stats = monitor.getStats();
      expect(stats.monthly_active_users).toBe(11);
      expect(stats.llm_cost_month_usd).toBeCloseTo(0.3, 10);
      expect(stats.llm_cost_per_mau_usd).toBeCloseTo(0.3 / 11, 10);
      expect(stats.error_budget_remaining['llm-cost-per-mau']).toBeCloseTo(1 - 0.3 / 11 / 0.05, 10);
      const acme = monitor.tenantCosts().find((t) => t.tenant === 'acme');
      expect(acme).toEqual({
        tenant: 'acme',
        llm_cost_usd: expect.closeTo(0.3, 10),
        monthly_active_users: 10,
        llm_cost_per_mau_usd: expect.closeTo(0.03, 10),
      });
    });

    it('keeps the monthly spend beyond the rolling window and starts afresh in a new month', () => {
      const c = clock(Date.UTC(2026, 10, 30, 23, 50));
      const monitor = new SloMonitor({ now: c.now });
      monitor.recordLlmCost(1, 'acme', 'u1');
      c.advance(5 * MINUTE);
      expect(monitor.getStats().llm_cost_month_usd).toBe(1);
      c.advance(10 * MINUTE); // 2026-12-01 00:05 UTC
      const stats = monitor.getStats();
      expect(stats.month).toBe('2026-12');
      expect(stats.llm_cost_month_usd).toBe(0);
      expect(stats.monthly_active_users).toBe(0);
    });

    it('folds tenants past maxTenants into one bucket so memory stays bounded', () => {
      const monitor = new SloMonitor({ now: clock().now, maxTenants: 2 });
      monitor.recordLlmCost(1, 'a', 'u');
      monitor.recordLlmCost(1, 'b', 'u');
      monitor.recordLlmCost(1, 'c', 'u');
      monitor.recordLlmCost(1, 'd', 'u');
      const tenants = monitor
        .tenantCosts()
        .map((t) => t.tenant)
        .sort();
      expect(tenants).toEqual([OTHER_TENANT, 'a', 'b']);
      expect(monitor.getStats().monthly_active_users).toBe(4);
    });

    it('reports the error budget left per ratio SLO', () => {
      const monitor = new SloMonitor({ now: clock().now });
      // 1000 requests: 2 failures (2x the 0.1% budget), 40 over 80 ms (80% of the 5% budget), 600 over 25 ms.
      for (let i = 0; i < 1000; i++) {
        const ms = i < 40 ? 120 : i < 600 ? 30 : 10;
        monitor.recordApi(ms, i >= 2);
      }
      for (let i = 0; i < 100; i++) monitor.recordInference(i < 10 ? 60 : 5);
      const remaining = monitor.getStats().error_budget_remaining;
      expect(remaining['api-availability']).toBeCloseTo(-1, 10);
      expect(remaining['api-latency-p95']).toBeCloseTo(0.2, 10);
      expect(remaining['api-latency-p50']).toBeCloseTo(-0.2, 10);
      expect(remaining['inference-latency-p95']).toBeCloseTo(-1, 10);
      expect(remaining['cache-hit-rate']).toBeNull();
    });

    it('counts a request exactly at the threshold as good, like a Prometheus `le` bucket', () => {
      const monitor = new SloMonitor({ now: clock().now });
      monitor.recordApi(80, true);
      monitor.recordApi(80.001, true);
      expect(monitor.getStats().error_budget_remaining['api-latency-p95']).toBeCloseTo(1 - 0.5 / 0.05, 10);
    });
  });

  describe('record*', () => {
    it('rejects negative or non-finite durations and amounts with INVALID_ARGUMENT', () => {
      const monitor = new SloMonitor();
      expect(invalid(() => monitor.recordApi(Number.NaN, true)).message).toMatch(/API latency/);
      expect(invalid(() => monitor.recordInference(-1)).message).toMatch(/inference latency/);
      expect(invalid(() => monitor.recordCost({ llmUsd: -0.01 })).message).toMatch(/llmUsd/);
      expect(invalid(() => monitor.recordDecision(Number.POSITIVE_INFINITY)).message).toMatch(/cpuSeconds/);
      expect(invalid(() => monitor.recordCost({ decisions: 1.5 })).message).toMatch(/decisions/);
      expect(invalid(() => monitor.recordLlmCost(0.1, '', 'u')).message).toMatch(/tenant/);
      expect(invalid(() => new SloMonitor({ slots: 0 })).message).toMatch(/slots/);
    });
  });

  describe('exportSnapshot', () => {
    function load(monitor: SloMonitor, seed: number, requests = 3000, scale = 1): void {
      for (let i = 0; i < requests; i++) {
        const ms = (((i * seed) % 173) + seed / 10) * scale;
        monitor.recordApi(ms, (i + seed) % 97 !== 0);
        if (i % 3 === 0) monitor.recordInference(ms / 3);
        monitor.recordCache((i + seed) % 4 === 0);
      }
      for (let i = 0; i < 200; i++) {
        monitor.recordLlmCost(0.001 * seed, 'acme', `user-${(i * seed) % 150}`);
        monitor.recordDecision(0.01 * seed);
      }
    }

    it('survives JSON and validates against the SloSnapshot schema', () => {
      const monitor = new SloMonitor({ service: 'gateway', now: clock().now });
      load(monitor, 3);
      const wire: unknown = JSON.parse(JSON.stringify(monitor.exportSnapshot()));
      expect(SloSnapshot.safeParse(wire).success).toBe(true);
      expect(statsFromSnapshot(wire)).toEqual(monitor.getStats());
    });

    it('merges into exactly what one monitor recording everything reports', () => {
      const c = clock();
      const a = new SloMonitor({ service: 'gateway', now: c.now });
      const b = new SloMonitor({ service: 'inference', now: c.now });
      const both = new SloMonitor({ service: 'inference', now: c.now });
      load(a, 3);
      load(both, 3);
      // The second service is smaller and slower, so averaging percentiles would be far off.
      load(b, 7, 600, 4);
      load(both, 7, 600, 4);
      const merged = mergeStats([a.exportSnapshot(), JSON.parse(JSON.stringify(b.exportSnapshot()))]);
      const expected = both.getStats();
      expect(merged.services).toEqual(['gateway', 'inference']);
      expect({ ...merged, services: expected.services }).toEqual(approximately(expected));
      expect(merged.api_p95_ms).toBe(expected.api_p95_ms);
      expect(merged.monthly_active_users).toBe(expected.monthly_active_users);
      // Percentiles of the union, not an average of the parts.
      const averaged = (a.getStats().api_p95_ms! + b.getStats().api_p95_ms!) / 2;
      expect(Math.abs(merged.api_p95_ms! - averaged)).toBeGreaterThan(50);
    });

    it('lists every service that records into it, or SERVICE_NAME / unknown when none is named', () => {
      const shared = new SloMonitor({ now: clock().now });
      expect(shared.exportSnapshot().services).toEqual([process.env.SERVICE_NAME ?? 'unknown']);
      shared.serves('inference');
      shared.serves('gateway');
      shared.serves('inference');
      expect(shared.exportSnapshot().services).toEqual(['gateway', 'inference']);
      expect(shared.getStats().services).toEqual(['gateway', 'inference']);
    });

    it('keeps only the newest month when services straddle a month boundary', () => {
      const old = new SloMonitor({ service: 'a', now: () => Date.UTC(2026, 10, 30, 23, 59) });
      const fresh = new SloMonitor({ service: 'b', now: () => Date.UTC(2026, 11, 1, 0, 1) });
      old.recordLlmCost(5, 'acme', 'u1');
      fresh.recordLlmCost(1, 'acme', 'u2');
      const merged = mergeSnapshots([old.exportSnapshot(), fresh.exportSnapshot()]);
      expect(merged.month.month).toBe('2026-12');
      expect(statsFromSnapshot(merged).llm_cost_month_usd).toBe(1);
    });

    it('rejects a malformed snapshot with INVALID_ARGUMENT naming what is wrong', () => {
      const snapshot = new SloMonitor({ now: clock().now }).exportSnapshot();
      const bad = { ...snapshot, cost: { ...snapshot.cost, decisions: -1 } };
      expect(invalid(() => mergeStats([snapshot, bad])).message).toMatch(/snapshot 1: cost\.decisions/);
      const garbled = { ...snapshot, latency: { api: 'not-a-histogram', inference: null } };
      expect(invalid(() => mergeStats([garbled])).message).toMatch(/latency\.api/);
      expect(invalid(() => mergeStats([])).message).toMatch(/no SLO snapshots/);
    });
  });

  describe('monthOf', () => {
    it('names the UTC calendar month', () => {
      expect(monthOf(Date.UTC(2026, 0, 31, 23, 59))).toBe('2026-01');
    });
  });
});
