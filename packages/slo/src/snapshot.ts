import { RegattaError, parseOrThrow } from '@regatta/contracts';
import { z } from 'zod';
import { SLO_IDS, SLOS, errorBudget, type SloId } from './definitions.js';
import { DistinctCounter, UserSketch } from './distinct-users.js';
import {
  addEncodedLatency,
  encodeLatency,
  newLatencyHistogram,
  percentileMs,
  type LatencyHistogram,
} from './latency.js';

// A snapshot is one monitor's window, encoded to travel over NATS: event counts per ratio SLO, the latency
// histograms themselves (so fleet percentiles are computed over the union of every request rather than by
// averaging per-service percentiles, which is meaningless), cost sums and this month's user sketches.

const count = z.number().int().nonnegative();
const amount = z.number().finite().nonnegative();

/** Good and total events of one ratio SLO. */
export const EventCounts = z.object({ good: count, total: count });
export type EventCounts = z.infer<typeof EventCounts>;

/** LLM spend and active users of one tenant this month. */
export const TenantMonth = z.object({ llm_usd: amount, users: UserSketch });
export type TenantMonth = z.infer<typeof TenantMonth>;

/** The wire form of a monitor's window; version 1. */
export const SloSnapshot = z.object({
  version: z.literal(1),
  /** Services whose windows are in this snapshot. */
  services: z.array(z.string().min(1).max(64)).max(256),
  taken_at_ms: z.number().int().nonnegative(),
  window_s: z.number().positive(),
  /** Keyed by SLO id; ids this version does not know are carried through merges and otherwise ignored. */
  events: z.record(z.string().max(64), EventCounts),
  /** HDR histograms of latency in microseconds (compressed base64), null when empty. */
  latency: z.object({
    api: z.string().max(1_000_000).nullable(),
    inference: z.string().max(1_000_000).nullable(),
  }),
  cost: z.object({ llm_usd: amount, compute_usd: amount, cpu_seconds: amount, decisions: count }),
  month: z.object({
    /** UTC calendar month, `YYYY-MM`. */
    month: z.string().regex(/^\d{4}-\d{2}$/),
    tenants: z.record(z.string().max(128), TenantMonth),
  }),
});
export type SloSnapshot = z.infer<typeof SloSnapshot>;

const nullableNumber = z.number().nullable();

/** The SLO numbers of a window, for one service or merged over the fleet. */
export const SloStats = z.object({
  services: z.array(z.string()),
  taken_at_ms: z.number(),
  window_s: z.number(),
  api_requests: count,
  api_p50_ms: nullableNumber,
  api_p95_ms: nullableNumber,
  api_p99_ms: nullableNumber,
  success_rate: nullableNumber,
  inference_requests: count,
  inference_p95_ms: nullableNumber,
  cache_requests: count,
  cache_hit_rate: nullableNumber,
  decisions: count,
  llm_cost_usd: amount,
  compute_cost_usd: amount,
  cost_per_decision_usd: nullableNumber,
  month: z.string(),
  monthly_active_users: count,
  llm_cost_month_usd: amount,
  llm_cost_per_mau_usd: nullableNumber,
  /**
   * Per SLO: 1 = untouched, 0 = spent, negative = overspent; null without data. Ratio SLOs:
   * `1 - error ratio / (1 - objective)` over the window; cost SLOs: `1 - value / threshold`.
   */
  error_budget_remaining: z.record(z.enum(SLO_IDS), nullableNumber),
});
export type SloStats = z.infer<typeof SloStats>;

/** One tenant's month as the monitor holds it. */
export interface TenantAccumulator {
  llmUsd: number;
  users: DistinctCounter;
}

/** A window in decoded, mergeable form (what snapshots encode). */
export interface WindowAggregate {
  services: Set<string>;
  takenAtMs: number;
  windowS: number;
  events: Map<string, EventCounts>;
  apiLatency: LatencyHistogram;
  inferenceLatency: LatencyHistogram;
  cost: { llmUsd: number; computeUsd: number; cpuSeconds: number; decisions: number };
  month: string;
  tenants: Map<string, TenantAccumulator>;
}

/** An empty aggregate. */
export function emptyAggregate(month: string, windowS: number, takenAtMs: number): WindowAggregate {
  return {
    services: new Set(),
    takenAtMs,
    windowS,
    events: new Map(),
    apiLatency: newLatencyHistogram(),
    inferenceLatency: newLatencyHistogram(),
    cost: { llmUsd: 0, computeUsd: 0, cpuSeconds: 0, decisions: 0 },
    month,
    tenants: new Map(),
  };
}

/** Encodes an aggregate for the wire. */
export function encodeAggregate(agg: WindowAggregate): SloSnapshot {
  const tenants: Record<string, TenantMonth> = {};
  for (const [tenant, acc] of [...agg.tenants].sort(([a], [b]) => a.localeCompare(b))) {
    tenants[tenant] = { llm_usd: acc.llmUsd, users: acc.users.toJSON() };
  }
  return {
    version: 1,
    services: [...agg.services].sort(),
    taken_at_ms: agg.takenAtMs,
    window_s: agg.windowS,
    events: Object.fromEntries(agg.events),
    latency: {
      api: agg.apiLatency.totalCount > 0 ? encodeLatency(agg.apiLatency) : null,
      inference: agg.inferenceLatency.totalCount > 0 ? encodeLatency(agg.inferenceLatency) : null,
    },
    cost: {
      llm_usd: agg.cost.llmUsd,
      compute_usd: agg.cost.computeUsd,
      cpu_seconds: agg.cost.cpuSeconds,
      decisions: agg.cost.decisions,
    },
    month: { month: agg.month, tenants },
  };
}

/** Adds a validated snapshot into an aggregate (months older than the aggregate's are dropped). */
export function addSnapshot(into: WindowAggregate, snapshot: SloSnapshot): void {
  for (const service of snapshot.services) into.services.add(service);
  into.takenAtMs = Math.max(into.takenAtMs, snapshot.taken_at_ms);
  into.windowS = Math.max(into.windowS, snapshot.window_s);
  for (const [id, counts] of Object.entries(snapshot.events)) addEvents(into, id, counts.good, counts.total);
  if (snapshot.latency.api) addEncodedLatency(into.apiLatency, snapshot.latency.api, 'latency.api');
  if (snapshot.latency.inference) {
    addEncodedLatency(into.inferenceLatency, snapshot.latency.inference, 'latency.inference');
  }
  into.cost.llmUsd += snapshot.cost.llm_usd;
  into.cost.computeUsd += snapshot.cost.compute_usd;
  into.cost.cpuSeconds += snapshot.cost.cpu_seconds;
  into.cost.decisions += snapshot.cost.decisions;
  // Around midnight on the 1st some services are already in the new month: the newest month wins.
  if (snapshot.month.month < into.month) return;
  if (snapshot.month.month > into.month) {
    into.month = snapshot.month.month;
    into.tenants.clear();
  }
  for (const [tenant, part] of Object.entries(snapshot.month.tenants)) {
    const acc = tenantAccumulator(into.tenants, tenant);
    acc.llmUsd += part.llm_usd;
    acc.users.merge(DistinctCounter.fromJSON(part.users));
  }
}

/** Adds good/total events of one ratio SLO. */
export function addEvents(into: WindowAggregate, id: string, good: number, total: number): void {
  const counts = into.events.get(id);
  if (counts) {
    counts.good += good;
    counts.total += total;
  } else {
    into.events.set(id, { good, total });
  }
}

/** The accumulator of `tenant`, created empty on first use. */
export function tenantAccumulator(
  tenants: Map<string, TenantAccumulator>,
  tenant: string,
): TenantAccumulator {
  let acc = tenants.get(tenant);
  if (!acc) {
    acc = { llmUsd: 0, users: new DistinctCounter() };
    tenants.set(tenant, acc);
  }
  return acc;
}

/** The SLO numbers of an aggregate. */
export function computeStats(agg: WindowAggregate): SloStats {
  const ratio = (id: SloId): number | null => {
    const counts = agg.events.get(id);
    return counts && counts.total > 0 ? counts.good / counts.total : null;
  };
  let monthlyActiveUsers = 0;
  let llmMonthUsd = 0;
  // Users are scoped to their tenant (the sketch hashes tenant and user id), so tenant counts add up.
  for (const acc of agg.tenants.values()) {
    monthlyActiveUsers += acc.users.count();
    llmMonthUsd += acc.llmUsd;
  }
  const costPerDecision =
    agg.cost.decisions > 0 ? (agg.cost.llmUsd + agg.cost.computeUsd) / agg.cost.decisions : null;
  const costPerMau = monthlyActiveUsers > 0 ? llmMonthUsd / monthlyActiveUsers : null;

  const remaining = {} as Record<SloId, number | null>;
  for (const slo of SLOS) {
    if (slo.kind === 'ratio') {
      const good = ratio(slo.id);
      remaining[slo.id] = good === null ? null : 1 - (1 - good) / errorBudget(slo);
      continue;
    }
    const value = slo.sli.kind === 'cost-per-mau' ? costPerMau : costPerDecision;
    remaining[slo.id] = value === null ? null : 1 - value / slo.threshold.value;
  }

  return {
    services: [...agg.services].sort(),
    taken_at_ms: agg.takenAtMs,
    window_s: agg.windowS,
    api_requests: agg.apiLatency.totalCount,
    api_p50_ms: percentileMs(agg.apiLatency, 50),
    api_p95_ms: percentileMs(agg.apiLatency, 95),
    api_p99_ms: percentileMs(agg.apiLatency, 99),
    success_rate: ratio('api-availability'),
    inference_requests: agg.inferenceLatency.totalCount,
    inference_p95_ms: percentileMs(agg.inferenceLatency, 95),
    cache_requests: agg.events.get('cache-hit-rate')?.total ?? 0,
    cache_hit_rate: ratio('cache-hit-rate'),
    decisions: agg.cost.decisions,
    llm_cost_usd: agg.cost.llmUsd,
    compute_cost_usd: agg.cost.computeUsd,
    cost_per_decision_usd: costPerDecision,
    month: agg.month,
    monthly_active_users: monthlyActiveUsers,
    llm_cost_month_usd: llmMonthUsd,
    llm_cost_per_mau_usd: costPerMau,
    error_budget_remaining: remaining,
  };
}

function aggregateOf(parts: readonly unknown[]): WindowAggregate {
  if (parts.length === 0) throw new RegattaError('INVALID_ARGUMENT', 'no SLO snapshots to merge');
  const snapshots = parts.map((part, i) => parseOrThrow(SloSnapshot, part, `SLO snapshot ${i}`));
  const month = snapshots.reduce((latest, s) => (s.month.month > latest ? s.month.month : latest), '0000-00');
  const agg = emptyAggregate(month, 0, 0);
  for (const snapshot of snapshots) addSnapshot(agg, snapshot);
  return agg;
}

/**
 * Merges snapshots from several services into one, exactly: histograms are added bucket by bucket, event
 * counts and costs summed, user sketches unioned. Each part is validated (INVALID_ARGUMENT names the bad one).
 */
export function mergeSnapshots(parts: readonly unknown[]): SloSnapshot {
  return encodeAggregate(aggregateOf(parts));
}

/** Fleet-wide stats over several services' snapshots (percentiles of the union, not averages). */
export function mergeStats(parts: readonly unknown[]): SloStats {
  return computeStats(aggregateOf(parts));
}

/** The stats a snapshot describes. */
export function statsFromSnapshot(snapshot: unknown): SloStats {
  return mergeStats([snapshot]);
}
