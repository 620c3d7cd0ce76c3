import type {
  CostPerDecisionSli,
  CostPerMauSli,
  LabelMatcher,
  MetricSelector,
  RatioSlo,
} from './definitions.js';

// PromQL for every SLI, written once and used by the recording rules, the OpenSLO export and the dashboards.

/** `metric{a="b",c=~"d"}` for a selector, with optional extra matchers. */
export function selector(sel: MetricSelector, extra: readonly LabelMatcher[] = []): string {
  const matchers = [...(sel.matchers ?? []), ...extra];
  if (matchers.length === 0) return sel.metric;
  return `${sel.metric}{${matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(',')}}`;
}

/** A number as PromQL reads it, without binary float noise. */
export function num(value: number): string {
  return String(Number.parseFloat(value.toPrecision(12)));
}

/** The good/bad/total selectors of a ratio SLO (latency SLIs become bucket and count series). */
export function ratioSelectors(slo: RatioSlo): { good?: string; bad?: string; total: string } {
  const sli = slo.sli;
  if (sli.kind === 'latency') {
    return {
      good: selector({ metric: `${sli.histogram}_bucket` }, [
        { name: 'le', op: '=', value: num(sli.thresholdSeconds) },
      ]),
      total: `${sli.histogram}_count`,
    };
  }
  return {
    ...(sli.good ? { good: selector(sli.good) } : {}),
    ...(sli.bad ? { bad: selector(sli.bad) } : {}),
    total: selector(sli.total),
  };
}

/** The fraction of bad events over `window` (a Prometheus duration such as `5m`). */
export function errorRatioQuery(slo: RatioSlo, window: string): string {
  const s = ratioSelectors(slo);
  const total = `sum(rate(${s.total}[${window}]))`;
  // A label value that never occurred has no series: `or vector(0)` keeps a clean SLI at 0 instead of empty.
  if (s.bad) return `(sum(rate(${s.bad}[${window}])) or vector(0))\n/\n${total}`;
  if (!s.good) throw new Error(`SLO ${slo.id} has neither good nor bad events`);
  return `1 - (\n  (sum(rate(${s.good}[${window}])) or vector(0))\n  /\n  ${total}\n)`;
}

/** Events per second seen by a ratio SLI over `window` (for low-traffic guards). */
export function eventRateQuery(slo: RatioSlo, window: string): string {
  return `sum(rate(${ratioSelectors(slo).total}[${window}]))`;
}

/** Fleet LLM cost per monthly active user: per-tenant ratios weighted by each tenant's users. */
export function costPerMauQuery(sli: CostPerMauSli): string {
  return `sum(${sli.costPerMauGauge} * ${sli.activeUsersGauge})\n/\nsum(${sli.activeUsersGauge})`;
}

/** Monthly active users over every tenant. */
export function activeUsersQuery(sli: CostPerMauSli): string {
  return `sum(${sli.activeUsersGauge})`;
}

/** (LLM spend + CPU seconds x vCPU price) per decision over `window`. */
export function costPerDecisionQuery(sli: CostPerDecisionSli, window: string): string {
  return (
    `(\n  (sum(rate(${sli.llmCostCounter}[${window}])) or vector(0))\n` +
    `  + (sum(rate(${sli.cpuSecondsCounter}[${window}])) or vector(0)) * ${num(sli.vcpuSecondUsd)}\n)\n` +
    `/\nsum(rate(${sli.decisionsCounter}[${window}]))`
  );
}

/** Decisions per second over `window`. */
export function decisionRateQuery(sli: CostPerDecisionSli, window: string): string {
  return `sum(rate(${sli.decisionsCounter}[${window}]))`;
}

/** The metric names an SLO reads (each gets an absent_over_time alert). */
export function sliMetrics(slo: RatioSlo | { sli: CostPerMauSli | CostPerDecisionSli }): string[] {
  const sli = slo.sli;
  switch (sli.kind) {
    case 'latency':
      return [`${sli.histogram}_count`];
    case 'events':
      return [
        ...new Set([
          sli.total.metric,
          sli.good?.metric ?? sli.total.metric,
          sli.bad?.metric ?? sli.total.metric,
        ]),
      ];
    case 'cost-per-mau':
      return [sli.costPerMauGauge, sli.activeUsersGauge];
    case 'cost-per-decision':
      return [sli.decisionsCounter, sli.cpuSecondsCounter];
  }
}
