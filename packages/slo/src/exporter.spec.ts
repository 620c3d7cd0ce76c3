import { beforeEach, describe, expect, it } from '@jest/globals';
import { getRegistry, resetRegistry } from '@regatta/telemetry';
import { registerSloMetrics } from './exporter.js';
import { SloMonitor } from './monitor.js';
import type { SloStats } from './snapshot.js';

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

class CountingMonitor extends SloMonitor {
  calls = 0;
  override getStats(): SloStats {
    this.calls++;
    return super.getStats();
  }
}

describe(registerSloMetrics.name, () => {
  beforeEach(() => resetRegistry());

  it('publishes the stats as slo_* gauges on the telemetry registry', async () => {
    const monitor = new SloMonitor();
    for (let i = 0; i < 100; i++) monitor.recordApi(i < 95 ? 10 : 80, true);
    monitor.recordCache(true);
    monitor.recordDecision(1);
    registerSloMetrics(monitor);
    const text = await getRegistry().metrics();
    expect(sample(text, 'slo_api_latency_p95_seconds')).toBeCloseTo(0.01, 4);
    expect(sample(text, 'slo_api_latency_p99_seconds')).toBeCloseTo(0.08, 3);
    expect(sample(text, 'slo_success_ratio')).toBe(1);
    expect(sample(text, 'slo_cache_hit_ratio')).toBe(1);
    expect(sample(text, 'slo_window_seconds')).toBe(600);
    expect(sample(text, 'slo_error_budget_remaining_ratio{slo="api-availability"}')).toBe(1);
    expect(sample(text, 'slo_error_budget_remaining_ratio{slo="cost-per-decision"}')).toBeGreaterThan(0.99);
  });

  it('reads NaN, not 0, for a gauge without data, and omits budgets without data', async () => {
    registerSloMetrics(new SloMonitor());
    const text = await getRegistry().metrics();
    expect(sample(text, 'slo_api_latency_p50_seconds')).toBeNaN();
    expect(text).not.toContain('slo_error_budget_remaining_ratio{');
  });

  it('computes the stats once per scrape and afresh on the next one', async () => {
    const monitor = new CountingMonitor();
    registerSloMetrics(monitor);
    await getRegistry().metrics();
    expect(monitor.calls).toBe(1);
    monitor.recordApi(42, true);
    const text = await getRegistry().metrics();
    expect(monitor.calls).toBe(2);
    expect(sample(text, 'slo_api_latency_p50_seconds')).toBeCloseTo(0.042, 4);
  });
});
