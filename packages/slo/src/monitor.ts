import { RegattaError } from '@regatta/contracts';
import { ratioSlos, roundRatio, type MonitorSignal } from './definitions.js';
import { DEFAULT_VCPU_SECOND_USD } from './cost.js';
import { newLatencyHistogram, recordLatencyMs, type LatencyHistogram } from './latency.js';
import {
  addEvents,
  computeStats,
  emptyAggregate,
  encodeAggregate,
  tenantAccumulator,
  type SloSnapshot,
  type SloStats,
  type TenantAccumulator,
  type WindowAggregate,
} from './snapshot.js';

/** Options of an SloMonitor; every field has a documented default. */
export interface SloMonitorOptions {
  /**
   * Name of this service in snapshots and merged stats. Services started with `startMicroservice` add their
   * own names (`serves`); with none, `process.env.SERVICE_NAME` or `unknown`.
   */
  service?: string;
  /** Clock in epoch milliseconds (tests inject one); default `Date.now`. */
  now?: () => number;
  /** Width of one sub-window; default 60 000 ms. */
  slotMs?: number;
  /** Sub-windows kept; the rolling window is `slots x slotMs` (default 10 x 1 min). */
  slots?: number;
  /** Price of one vCPU-second for the compute part of cost per decision; default DEFAULT_VCPU_SECOND_USD. */
  vcpuSecondUsd?: number;
  /** Tenants tracked separately per month; later ones share the `_other` bucket. Default 64. */
  maxTenants?: number;
}

/** Costs to add; every field is optional. */
export interface CostRecord {
  /** LLM spend in USD. */
  llmUsd?: number;
  /** CPU seconds spent serving decisions. */
  cpuSeconds?: number;
  /** Decisions served (the denominator of cost per decision). */
  decisions?: number;
  /** Tenant the spend and user belong to; `_unknown` when omitted. */
  tenant?: string;
  /** A user active this month (counted once per month). */
  userId?: string;
}

/** One tenant's LLM spend and active users this month. */
export interface TenantCost {
  tenant: string;
  llm_cost_usd: number;
  monthly_active_users: number;
  llm_cost_per_mau_usd: number | null;
}

/** Tenant under which spend without a tenant is counted. */
export const UNKNOWN_TENANT = '_unknown';
/** Tenant that collects every tenant past `maxTenants`. */
export const OTHER_TENANT = '_other';

interface Slot {
  epoch: number;
  apiLatency: LatencyHistogram;
  inferenceLatency: LatencyHistogram;
  good: number[];
  total: number[];
  llmUsd: number;
  cpuSeconds: number;
  decisions: number;
}

interface Feed {
  index: number;
  /** Latency SLOs: a request is good at or under this many ms; undefined = good when it succeeded. */
  thresholdMs: number | undefined;
}

/**
 * Rolling-window SLO numbers of one process in bounded memory: `slots` rotating sub-windows, each with two
 * HDR latency histograms (~70 KB each) and a few counters, plus this month's per-tenant spend and
 * distinct-user sketches (at most `maxTenants + 2` of ~2 KB). Nothing grows with traffic.
 */
export class SloMonitor {
  private readonly fallbackService: string;
  /** The services recording into this monitor: one per process, all four in the embedded fleet. */
  private readonly services = new Set<string>();
  private readonly now: () => number;
  private readonly slotMs: number;
  private readonly vcpuSecondUsd: number;
  private readonly maxTenants: number;
  private readonly ratio = ratioSlos();
  private readonly feeds: Record<MonitorSignal, Feed[]>;
  private readonly slots: Slot[];
  private month: string;
  private readonly tenants = new Map<string, TenantAccumulator>();

  constructor(options: SloMonitorOptions = {}) {
    if (options.service !== undefined) this.services.add(options.service);
    this.fallbackService = process.env.SERVICE_NAME ?? 'unknown';
    this.now = options.now ?? Date.now;
    this.slotMs = positiveInteger(options.slotMs ?? 60_000, 'slotMs');
    this.vcpuSecondUsd = nonNegative(options.vcpuSecondUsd ?? DEFAULT_VCPU_SECOND_USD, 'vcpuSecondUsd');
    this.maxTenants = positiveInteger(options.maxTenants ?? 64, 'maxTenants');
    const slotCount = positiveInteger(options.slots ?? 10, 'slots');
    this.slots = Array.from({ length: slotCount }, () => this.emptySlot());
    this.feeds = { api: [], inference: [], cache: [] };
    this.ratio.forEach((slo, index) => {
      const thresholdMs =
        slo.sli.kind === 'latency' ? roundRatio(slo.sli.thresholdSeconds * 1000) : undefined;
      this.feeds[slo.signal].push({ index, thresholdMs });
    });
    this.month = monthOf(this.now());
  }

  /** Names a service that records into this monitor; snapshots list every name given. */
  serves(service: string): void {
    this.services.add(service);
  }

  /** Records one API request: its latency in milliseconds and whether it succeeded (not a 5xx). */
  recordApi(ms: number, success: boolean): void {
    const slot = this.currentSlot();
    recordLatencyMs(slot.apiLatency, ms, 'API latency');
    this.count(slot, 'api', ms, success);
  }

  /** Records one inference request's latency (queue wait + compute) in milliseconds. */
  recordInference(ms: number, success = true): void {
    const slot = this.currentSlot();
    recordLatencyMs(slot.inferenceLatency, ms, 'inference latency');
    this.count(slot, 'inference', ms, success);
  }

  /** Records one cache lookup: a hit in any tier, or a miss. */
  recordCache(hit: boolean): void {
    this.count(this.currentSlot(), 'cache', 0, hit);
  }

  /** Adds LLM spend, CPU seconds and decisions; a tenant/user pair also counts the user as active this month. */
  recordCost(cost: CostRecord): void {
    const llmUsd = nonNegative(cost.llmUsd ?? 0, 'llmUsd');
    const cpuSeconds = nonNegative(cost.cpuSeconds ?? 0, 'cpuSeconds');
    const decisions = nonNegative(cost.decisions ?? 0, 'decisions');
    if (!Number.isInteger(decisions)) {
      throw new RegattaError('INVALID_ARGUMENT', `decisions must be a whole number, got ${decisions}`);
    }
    const slot = this.currentSlot();
    slot.llmUsd += llmUsd;
    slot.cpuSeconds += cpuSeconds;
    slot.decisions += decisions;
    if (llmUsd === 0 && cost.userId === undefined) return;
    const acc = this.tenant(cost.tenant);
    acc.llmUsd += llmUsd;
    if (cost.userId !== undefined)
      acc.users.add(`${cost.tenant ?? UNKNOWN_TENANT}\u0000${text(cost.userId, 'userId')}`);
  }

  /** Adds the cost of one LLM call made for `userId` of `tenant` (who thereby counts as active this month). */
  recordLlmCost(usd: number, tenant: string, userId?: string): void {
    this.recordCost({ llmUsd: usd, tenant, userId });
  }

  /** Counts served decisions and the CPU seconds they took. */
  recordDecision(cpuSeconds: number, decisions = 1): void {
    this.recordCost({ cpuSeconds, decisions });
  }

  /** Counts `userId` of `tenant` as active this month without any spend. */
  recordActiveUser(tenant: string, userId: string): void {
    this.recordCost({ tenant, userId });
  }

  /** The SLO numbers over the rolling window (and this month for cost per MAU). */
  getStats(): SloStats {
    return computeStats(this.aggregate());
  }

  /** The window in wire form, to be merged with other services' snapshots (`mergeSnapshots`, `mergeStats`). */
  exportSnapshot(): SloSnapshot {
    return encodeAggregate(this.aggregate());
  }

  /** Per-tenant LLM spend and active users this month, largest spend first. */
  tenantCosts(): TenantCost[] {
    this.rollMonth();
    return [...this.tenants]
      .map(([tenant, acc]) => {
        const users = acc.users.count();
        return {
          tenant,
          llm_cost_usd: acc.llmUsd,
          monthly_active_users: users,
          llm_cost_per_mau_usd: users > 0 ? acc.llmUsd / users : null,
        };
      })
      .sort((a, b) => b.llm_cost_usd - a.llm_cost_usd);
  }

  private count(slot: Slot, signal: MonitorSignal, ms: number, ok: boolean): void {
    for (const feed of this.feeds[signal]) {
      const good = feed.thresholdMs === undefined ? ok : ms <= feed.thresholdMs;
      slot.total[feed.index]!++;
      if (good) slot.good[feed.index]!++;
    }
  }

  private aggregate(): WindowAggregate {
    this.rollMonth();
    const now = this.now();
    const current = Math.floor(now / this.slotMs);
    const agg = emptyAggregate(this.month, (this.slots.length * this.slotMs) / 1000, now);
    if (this.services.size === 0) agg.services.add(this.fallbackService);
    for (const service of this.services) agg.services.add(service);
    for (const slot of this.slots) {
      if (slot.epoch <= current - this.slots.length || slot.epoch > current) continue;
      agg.apiLatency.add(slot.apiLatency);
      agg.inferenceLatency.add(slot.inferenceLatency);
      this.ratio.forEach((slo, i) => addEvents(agg, slo.id, slot.good[i]!, slot.total[i]!));
      agg.cost.llmUsd += slot.llmUsd;
      agg.cost.cpuSeconds += slot.cpuSeconds;
      agg.cost.decisions += slot.decisions;
    }
    // Every ratio SLO appears, with zero events when idle, so merged snapshots always carry all of them.
    for (const slo of this.ratio) if (!agg.events.has(slo.id)) addEvents(agg, slo.id, 0, 0);
    agg.cost.computeUsd = agg.cost.cpuSeconds * this.vcpuSecondUsd;
    for (const [tenant, acc] of this.tenants) {
      const copy = tenantAccumulator(agg.tenants, tenant);
      copy.llmUsd = acc.llmUsd;
      copy.users.merge(acc.users);
    }
    return agg;
  }

  // The slot for now: a slot last used a full window ago (or more) is cleared before reuse.
  private currentSlot(): Slot {
    const epoch = Math.floor(this.now() / this.slotMs);
    const slot = this.slots[epoch % this.slots.length]!;
    if (slot.epoch !== epoch) {
      slot.epoch = epoch;
      slot.apiLatency.reset();
      slot.inferenceLatency.reset();
      slot.good.fill(0);
      slot.total.fill(0);
      slot.llmUsd = 0;
      slot.cpuSeconds = 0;
      slot.decisions = 0;
    }
    return slot;
  }

  private tenant(name: string | undefined): TenantAccumulator {
    this.rollMonth();
    const tenant = name === undefined ? UNKNOWN_TENANT : text(name, 'tenant');
    const known = this.tenants.has(tenant) || this.tenants.size < this.maxTenants;
    return tenantAccumulator(this.tenants, known ? tenant : OTHER_TENANT);
  }

  private rollMonth(): void {
    const month = monthOf(this.now());
    if (month === this.month) return;
    this.month = month;
    this.tenants.clear();
  }

  private emptySlot(): Slot {
    return {
      epoch: -1,
      apiLatency: newLatencyHistogram(),
      inferenceLatency: newLatencyHistogram(),
      good: new Array<number>(this.ratio.length).fill(0),
      total: new Array<number>(this.ratio.length).fill(0),
      llmUsd: 0,
      cpuSeconds: 0,
      decisions: 0,
    };
  }
}

let processMonitor: SloMonitor | undefined;

/** The process-wide SLO monitor (created with defaults on first use unless configured). */
export function getSloMonitor(): SloMonitor {
  processMonitor ??= new SloMonitor();
  return processMonitor;
}

/** Replaces the process-wide monitor; call once at boot to name the service or set prices. */
export function configureSloMonitor(options: SloMonitorOptions = {}): SloMonitor {
  processMonitor = new SloMonitor(options);
  return processMonitor;
}

/** Forgets the process-wide monitor (tests only). */
export function resetSloMonitor(): void {
  processMonitor = undefined;
}

/** The UTC calendar month (`YYYY-MM`) of an epoch-millisecond time. */
export function monthOf(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 7);
}

function nonNegative(value: number, what: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RegattaError('INVALID_ARGUMENT', `${what} must be a finite number >= 0, got ${value}`);
  }
  return value;
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RegattaError('INVALID_ARGUMENT', `${what} must be a positive integer, got ${value}`);
  }
  return value;
}

function text(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `${what} must be a non-empty string of at most 256 characters`,
    );
  }
  return value;
}
