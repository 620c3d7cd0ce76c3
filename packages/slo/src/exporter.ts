import { gauge } from '@regatta/telemetry';
import { SLOS } from './definitions.js';
import { getSloMonitor, type SloMonitor } from './monitor.js';
import type { SloStats } from './snapshot.js';

// The monitor's numbers as gauges on the process registry, computed when Prometheus scrapes. Prometheus'
// own SLO rules work from the raw histograms and counters; these gauges give the live in-process view
// (and what CloudWatch ingests where there is no Prometheus).

type Source = () => SloStats;

let source: Source = () => getSloMonitor().getStats();
let cached: SloStats | undefined;

// Every gauge's collect() runs synchronously within one scrape, so the stats are computed once per scrape
// and forgotten as soon as the scrape's synchronous part is over.
function stats(): SloStats {
  if (!cached) {
    cached = source();
    queueMicrotask(() => {
      cached = undefined;
    });
  }
  return cached;
}

// Latencies are published in seconds, Prometheus' base unit (`promtool check metrics` rejects `_ms`).
const SCALARS: ReadonlyArray<{ name: string; help: string; value: (s: SloStats) => number | null }> = [
  {
    name: 'slo_api_latency_p50_seconds',
    help: 'API p50 latency over the SLO window',
    value: (s) => seconds(s.api_p50_ms),
  },
  {
    name: 'slo_api_latency_p95_seconds',
    help: 'API p95 latency over the SLO window',
    value: (s) => seconds(s.api_p95_ms),
  },
  {
    name: 'slo_api_latency_p99_seconds',
    help: 'API p99 latency over the SLO window',
    value: (s) => seconds(s.api_p99_ms),
  },
  {
    name: 'slo_inference_latency_p95_seconds',
    help: 'Inference p95 latency over the SLO window',
    value: (s) => seconds(s.inference_p95_ms),
  },
  {
    name: 'slo_success_ratio',
    help: 'Share of API requests that did not fail',
    value: (s) => s.success_rate,
  },
  {
    name: 'slo_cache_hit_ratio',
    help: 'Share of cache lookups served by a tier',
    value: (s) => s.cache_hit_rate,
  },
  {
    name: 'slo_cost_per_decision_usd',
    help: 'LLM spend plus compute cost per decision over the SLO window, USD',
    value: (s) => s.cost_per_decision_usd,
  },
  {
    name: 'slo_llm_cost_per_mau_usd',
    help: 'LLM spend this month per monthly active user, USD',
    value: (s) => s.llm_cost_per_mau_usd,
  },
  {
    name: 'slo_monthly_active_users',
    help: 'Distinct users active this month (estimated past 64 per tenant)',
    value: (s) => s.monthly_active_users,
  },
  { name: 'slo_window_seconds', help: 'Length of the rolling SLO window', value: (s) => s.window_s },
];

function seconds(ms: number | null): number | null {
  return ms === null ? null : ms / 1000;
}

/**
 * Publishes the monitor's stats as `slo_*` gauges on the telemetry registry (`slo_api_latency_p95_seconds`,
 * `slo_error_budget_remaining_ratio{slo}` ...). Without data a gauge reads NaN (or, per SLO, has no
 * sample). Idempotent; the latest call chooses the monitor.
 */
export function registerSloMetrics(monitor?: SloMonitor): void {
  source = monitor ? () => monitor.getStats() : () => getSloMonitor().getStats();
  cached = undefined;
  for (const scalar of SCALARS) {
    gauge({
      name: scalar.name,
      help: scalar.help,
      collect() {
        // NaN, not 0, when there is no data: a 0 s latency or a 0% success rate would be a lie.
        this.set(scalar.value(stats()) ?? Number.NaN);
      },
    });
  }
  gauge<'slo'>({
    name: 'slo_error_budget_remaining_ratio',
    help: 'Error budget left per SLO over the window: 1 untouched, 0 spent, negative overspent',
    labelNames: ['slo'],
    collect() {
      const remaining = stats().error_budget_remaining;
      this.reset();
      for (const slo of SLOS) {
        const value = remaining[slo.id];
        if (value !== null) this.set({ slo: slo.id }, value);
      }
    },
  });
}
