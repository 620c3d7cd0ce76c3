import { LATENCY_BUCKETS } from '@regatta/telemetry';
import { DEFAULT_VCPU_SECOND_USD } from './cost.js';

// The one source of truth for Regatta's SLOs. The in-process monitor, the OpenSLO export, the Prometheus
// rules, the alert tests and the dashboards are all derived from this list.

/** Identifiers of every Regatta SLO (also the `sloth_id` label of its rules and alerts). */
export const SLO_IDS = [
  'api-latency-p50',
  'api-latency-p95',
  'inference-latency-p95',
  'api-availability',
  'cache-hit-rate',
  'llm-cost-per-mau',
  'cost-per-decision',
] as const;
export type SloId = (typeof SLO_IDS)[number];

/** A Prometheus label matcher. */
export interface LabelMatcher {
  readonly name: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

/** A metric name with optional label matchers. */
export interface MetricSelector {
  readonly metric: string;
  readonly matchers?: readonly LabelMatcher[];
}

/** Latency SLI as a bucket ratio: requests at or under `thresholdSeconds` over all requests. */
export interface LatencySli {
  readonly kind: 'latency';
  /** Histogram base name (`_bucket` and `_count` are appended). */
  readonly histogram: string;
  /** Must be an exact boundary of LATENCY_BUCKETS. */
  readonly thresholdSeconds: number;
}

/** Event ratio SLI: `good / total` or `1 - bad / total` over counters. */
export interface EventRatioSli {
  readonly kind: 'events';
  readonly good?: MetricSelector;
  readonly bad?: MetricSelector;
  readonly total: MetricSelector;
}

/** LLM spend per monthly active user, from the llm-proxy's per-tenant gauges, weighted by users. */
export interface CostPerMauSli {
  readonly kind: 'cost-per-mau';
  readonly costPerMauGauge: string;
  readonly activeUsersGauge: string;
  /** Below this many monthly users the ratio is noise (early in the month), so nothing alerts. */
  readonly minActiveUsers: number;
}

/** (LLM spend + CPU seconds x vCPU price) per decision. */
export interface CostPerDecisionSli {
  readonly kind: 'cost-per-decision';
  readonly llmCostCounter: string;
  readonly cpuSecondsCounter: string;
  readonly decisionsCounter: string;
  readonly vcpuSecondUsd: number;
  /** Low-traffic guard: nothing alerts below this many decisions per second. */
  readonly minDecisionsPerSecond: number;
}

/** Where the in-process monitor takes a ratio SLO's events from. */
export type MonitorSignal = 'api' | 'inference' | 'cache';

interface SloBase {
  readonly id: SloId;
  readonly displayName: string;
  readonly description: string;
  /** Owning service (`sloth_service`); `regatta` for fleet-wide SLOs. */
  readonly service: string;
  /** Rolling compliance window. */
  readonly window: '30d';
  /** Anchor in docs/operations.md that explains what to do when this SLO alerts. */
  readonly runbookAnchor: string;
}

/** An SLO over a ratio of good events: `objective` is the fraction of events that must be good. */
export interface RatioSlo extends SloBase {
  readonly kind: 'ratio';
  readonly sli: LatencySli | EventRatioSli;
  readonly objective: number;
  readonly signal: MonitorSignal;
  /** Low-traffic guard: no alert fires while the SLI sees fewer events per second than this. */
  readonly minEventsPerSecond: number;
}

/** An SLO that keeps a value at or under a threshold (costs). */
export interface ThresholdSlo extends SloBase {
  readonly kind: 'threshold';
  readonly sli: CostPerMauSli | CostPerDecisionSli;
  readonly threshold: { readonly op: 'lte'; readonly value: number; readonly unit: 'usd' };
  /** Fraction of evaluations that must meet the threshold (the OpenSLO `target`). */
  readonly target: number;
}

export type SloDefinition = RatioSlo | ThresholdSlo;

const API_REQUESTS: MetricSelector = { metric: 'api_requests_total' };

/** Every Regatta SLO. */
export const SLOS: readonly SloDefinition[] = [
  {
    id: 'api-latency-p50',
    kind: 'ratio',
    displayName: 'API p50 latency <= 25 ms',
    description: 'Half of all gateway requests complete within 25 ms.',
    service: 'gateway',
    window: '30d',
    runbookAnchor: 'slo-api-latency',
    sli: { kind: 'latency', histogram: 'api_request_duration_seconds', thresholdSeconds: 0.025 },
    objective: 0.5,
    signal: 'api',
    minEventsPerSecond: 0.1,
  },
  {
    id: 'api-latency-p95',
    kind: 'ratio',
    displayName: 'API p95 latency <= 80 ms',
    description: '95% of gateway requests complete within 80 ms.',
    service: 'gateway',
    window: '30d',
    runbookAnchor: 'slo-api-latency',
    sli: { kind: 'latency', histogram: 'api_request_duration_seconds', thresholdSeconds: 0.08 },
    objective: 0.95,
    signal: 'api',
    minEventsPerSecond: 0.1,
  },
  {
    id: 'inference-latency-p95',
    kind: 'ratio',
    displayName: 'Inference p95 latency <= 50 ms',
    description: '95% of inference requests (queue wait + compute) complete within 50 ms.',
    service: 'inference',
    window: '30d',
    runbookAnchor: 'slo-inference-latency',
    sli: { kind: 'latency', histogram: 'inference_request_duration_seconds', thresholdSeconds: 0.05 },
    objective: 0.95,
    signal: 'inference',
    minEventsPerSecond: 0.1,
  },
  {
    id: 'api-availability',
    kind: 'ratio',
    displayName: 'API success rate >= 99.9%',
    description: 'At least 99.9% of gateway requests do not fail with a 5xx status.',
    service: 'gateway',
    window: '30d',
    runbookAnchor: 'slo-api-availability',
    sli: {
      kind: 'events',
      bad: { metric: 'api_requests_total', matchers: [{ name: 'status_code', op: '=~', value: '5..' }] },
      total: API_REQUESTS,
    },
    objective: 0.999,
    signal: 'api',
    minEventsPerSecond: 0.1,
  },
  {
    id: 'cache-hit-rate',
    kind: 'ratio',
    displayName: 'Cache hit rate >= 30%',
    description:
      'At least 30% of cache lookups are served from a tier (memory or Redis); every lookup starts in memory, ' +
      'so memory-tier lookups count them.',
    service: 'regatta',
    window: '30d',
    runbookAnchor: 'slo-cache-hit-rate',
    sli: {
      kind: 'events',
      good: { metric: 'cache_requests_total', matchers: [{ name: 'result', op: '=', value: 'hit' }] },
      total: { metric: 'cache_requests_total', matchers: [{ name: 'tier', op: '=', value: 'memory' }] },
    },
    objective: 0.3,
    signal: 'cache',
    minEventsPerSecond: 0.1,
  },
  {
    id: 'llm-cost-per-mau',
    kind: 'threshold',
    displayName: 'LLM cost per monthly active user <= $0.05',
    description:
      'LLM spend this month divided by the distinct users who used the LLM this month, fleet-wide.',
    service: 'llm-proxy',
    window: '30d',
    runbookAnchor: 'slo-llm-cost',
    sli: {
      kind: 'cost-per-mau',
      costPerMauGauge: 'llm_cost_per_mau_usd',
      activeUsersGauge: 'llm_monthly_active_users',
      minActiveUsers: 50,
    },
    threshold: { op: 'lte', value: 0.05, unit: 'usd' },
    target: 0.99,
  },
  {
    id: 'cost-per-decision',
    kind: 'threshold',
    displayName: 'Cost per decision <= $0.01',
    description: 'LLM spend plus compute (CPU seconds x vCPU-second price) per decision served.',
    service: 'regatta',
    window: '30d',
    runbookAnchor: 'slo-cost-per-decision',
    sli: {
      kind: 'cost-per-decision',
      llmCostCounter: 'llm_cost_usd_total',
      cpuSecondsCounter: 'decision_cpu_seconds_total',
      decisionsCounter: 'decisions_total',
      vcpuSecondUsd: DEFAULT_VCPU_SECOND_USD,
      minDecisionsPerSecond: 0.01,
    },
    threshold: { op: 'lte', value: 0.01, unit: 'usd' },
    target: 0.99,
  },
];

/** The definition of one SLO. */
export function getSlo(id: SloId): SloDefinition {
  const slo = SLOS.find((s) => s.id === id);
  if (!slo) throw new Error(`unknown SLO ${id}`);
  return slo;
}

/** The ratio SLOs (those with an error budget over events). */
export function ratioSlos(): RatioSlo[] {
  return SLOS.filter((s): s is RatioSlo => s.kind === 'ratio');
}

/** The threshold SLOs (costs). */
export function thresholdSlos(): ThresholdSlo[] {
  return SLOS.filter((s): s is ThresholdSlo => s.kind === 'threshold');
}

/** The fraction of events a ratio SLO may get wrong: `1 - objective`, rounded to hide float noise. */
export function errorBudget(slo: RatioSlo): number {
  return roundRatio(1 - slo.objective);
}

/**
 * The fastest a ratio SLO can burn its budget: every event bad gives `1 / (1 - objective)`. A burn-rate alert
 * with factor F can only fire when F stays below it, so a 50% objective (max 2x) gets a threshold alert.
 */
export function maxBurnRate(slo: RatioSlo): number {
  return 1 / errorBudget(slo);
}

/** Removes binary float noise (`1 - 0.999 = 0.0010000000000000009`) from a ratio. */
export function roundRatio(value: number): number {
  return Number.parseFloat(value.toPrecision(12));
}

// Thresholds that fall between buckets make the ratio SLI silently wrong, so a bad definition fails at load.
for (const slo of SLOS) {
  if (
    slo.kind === 'ratio' &&
    slo.sli.kind === 'latency' &&
    !LATENCY_BUCKETS.includes(slo.sli.thresholdSeconds)
  ) {
    throw new Error(
      `SLO ${slo.id}: threshold ${slo.sli.thresholdSeconds}s is not a LATENCY_BUCKETS boundary`,
    );
  }
}
