import {
  SLOS,
  errorBudget,
  maxBurnRate,
  type RatioSlo,
  type SloDefinition,
  type ThresholdSlo,
} from '../definitions.js';
import {
  activeUsersQuery,
  costPerDecisionQuery,
  costPerMauQuery,
  decisionRateQuery,
  errorRatioQuery,
  eventRateQuery,
  num,
  sliMetrics,
} from '../promql.js';
import { SCRAPE_TARGETS } from './configs.js';

// Prometheus rules for every SLO. Ratio SLOs get Sloth's recording rules (same names, labels and group
// names as `sloth generate`, so Sloth's public Grafana dashboards work on them) and either multiwindow,
// multi-burn-rate alerts (Google SRE Workbook ch. 5) or, when the objective is too loose for any burn rate
// to be reachable, a threshold alert. Cost SLOs get value recordings and threshold alerts. Every SLI gets an
// absent_over_time alert, and every alert a low-traffic guard.

/** A recording rule. */
export interface RecordingRule {
  record: string;
  expr: string;
  labels?: Record<string, string>;
}

/** An alerting rule. */
export interface AlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A rule group. */
export interface RuleGroup {
  name: string;
  rules: Array<RecordingRule | AlertingRule>;
}

/** One rules file (path relative to `prometheus/rules/`). */
export interface RuleFile {
  file: string;
  groups: RuleGroup[];
}

/** Severity label that Alertmanager routes on. */
export type Severity = 'page' | 'ticket';

/** One multiwindow burn-rate condition: both windows above `factor` x the error budget. */
export interface BurnWindow {
  long: string;
  short: string;
  factor: number;
  severity: Severity;
}

/** The SRE Workbook's windows for a 30-day SLO: 2% and 5% of budget spent page, 10% and 10% ticket. */
export const BURN_WINDOWS: readonly BurnWindow[] = [
  { long: '1h', short: '5m', factor: 14.4, severity: 'page' },
  { long: '6h', short: '30m', factor: 6, severity: 'page' },
  { long: '1d', short: '2h', factor: 3, severity: 'ticket' },
  { long: '3d', short: '6h', factor: 1, severity: 'ticket' },
];

/** The windows Sloth records error ratios over. */
export const SLI_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'] as const;

/** Where every runbook link points; each SLO adds its own anchor. */
export const RUNBOOK_DOC = 'docs/operations.md';

/** How long an SLI's metric may be missing before its absent alert fires. */
export const ABSENT_WINDOW = '10m';

/** The alerts generated for one SLO. */
export interface SloAlerts {
  page?: AlertingRule;
  ticket?: AlertingRule;
  threshold?: AlertingRule;
  absent: AlertingRule;
}

/** `api-latency-p50` -> `ApiLatencyP50`. */
export function pascal(id: string): string {
  return id
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** The Sloth labels that identify an SLO's series. */
export function slothLabels(slo: SloDefinition): Record<string, string> {
  return { sloth_id: slo.id, sloth_service: slo.service, sloth_slo: slo.id };
}

/** Whether an SLO's alerts are burn-rate alerts (false: a threshold alert). */
export function usesBurnRate(slo: SloDefinition): slo is RatioSlo {
  return slo.kind === 'ratio' && BURN_WINDOWS.every((w) => w.factor < maxBurnRate(slo));
}

function runbook(slo: SloDefinition): string {
  return `${RUNBOOK_DOC}#${slo.runbookAnchor}`;
}

function id(slo: SloDefinition): string {
  return `sloth_id="${slo.id}"`;
}

function sliRecordings(slo: RatioSlo): RuleGroup {
  const labels = slothLabels(slo);
  const rules: RecordingRule[] = SLI_WINDOWS.map((window) => ({
    record: `slo:sli_error:ratio_rate${window}`,
    expr: errorRatioQuery(slo, window),
    labels: { ...labels, sloth_window: window },
  }));
  // The 30-day ratio is the mean of the 5m ratios (as Sloth does it): cheap, and exact for steady traffic.
  rules.push({
    record: 'slo:sli_error:ratio_rate30d',
    expr:
      `sum_over_time(slo:sli_error:ratio_rate5m{${id(slo)}}[30d])\n` +
      `/ ignoring (sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m{${id(slo)}}[30d])`,
    labels: { ...labels, sloth_window: '30d' },
  });
  rules.push({ record: 'regatta:slo_events:rate1h', expr: eventRateQuery(slo, '1h'), labels });
  return { name: `sloth-slo-sli-recordings-${slo.id}`, rules };
}

function metaRecordings(slo: RatioSlo): RuleGroup {
  const labels = slothLabels(slo);
  const on = 'on (sloth_id, sloth_slo, sloth_service) group_left';
  return {
    name: `sloth-slo-meta-recordings-${slo.id}`,
    rules: [
      { record: 'slo:objective:ratio', expr: `vector(${num(slo.objective)})`, labels },
      { record: 'slo:error_budget:ratio', expr: `vector(${num(errorBudget(slo))})`, labels },
      { record: 'slo:time_period:days', expr: 'vector(30)', labels },
      {
        record: 'slo:current_burn_rate:ratio',
        expr: `slo:sli_error:ratio_rate5m{${id(slo)}}\n/ ${on}\nslo:error_budget:ratio{${id(slo)}}`,
        labels,
      },
      {
        record: 'slo:period_burn_rate:ratio',
        expr: `slo:sli_error:ratio_rate30d{${id(slo)}}\n/ ${on}\nslo:error_budget:ratio{${id(slo)}}`,
        labels,
      },
      {
        record: 'slo:period_error_budget_remaining:ratio',
        expr: `1 - slo:period_burn_rate:ratio{${id(slo)}}`,
        labels,
      },
      {
        record: 'sloth_slo_info',
        expr: 'vector(1)',
        labels: {
          ...labels,
          sloth_mode: 'cli-gen-prom',
          sloth_objective: num(slo.objective * 100),
          sloth_spec: 'prometheus/v1',
          sloth_version: 'regatta',
        },
      },
    ],
  };
}

function above(slo: RatioSlo, window: string, limit: string): string {
  return `max(slo:sli_error:ratio_rate${window}{${id(slo)}} > ${limit}) without (sloth_window)`;
}

function trafficGuard(slo: RatioSlo): string {
  return `and on (sloth_id)\n(regatta:slo_events:rate1h{${id(slo)}} > ${num(slo.minEventsPerSecond)})`;
}

function burnAlert(slo: RatioSlo, severity: Severity): AlertingRule {
  const windows = BURN_WINDOWS.filter((w) => w.severity === severity);
  const budget = num(errorBudget(slo));
  const pairs = windows.map((w) => {
    const limit = `(${num(w.factor)} * ${budget})`;
    return `(\n  ${above(slo, w.short, limit)}\n  and\n  ${above(slo, w.long, limit)}\n)`;
  });
  const described = windows.map((w) => `${num(w.factor)}x over ${w.long} and ${w.short}`).join(', or ');
  return {
    alert: `${pascal(slo.id)}BurnRate${severity === 'page' ? 'Page' : 'Ticket'}`,
    expr: `(\n${pairs.join('\nor\n')}\n)\n${trafficGuard(slo)}`,
    labels: { severity, sloth_severity: severity },
    annotations: {
      summary: `${slo.displayName}: error budget burning ${severity === 'page' ? 'fast' : 'steadily'}`,
      description:
        `${slo.description} The 30-day error budget (${num(errorBudget(slo) * 100)}% of events) is burning at ` +
        `${described}.`,
      runbook_url: runbook(slo),
    },
  };
}

function ratioThresholdAlert(slo: RatioSlo): AlertingRule {
  const budget = num(errorBudget(slo));
  return {
    alert: `${pascal(slo.id)}SloBreached`,
    expr: `(\n  ${above(slo, '30m', budget)}\n  and\n  ${above(slo, '5m', budget)}\n)\n${trafficGuard(slo)}`,
    for: '10m',
    labels: { severity: 'ticket', sloth_severity: 'ticket' },
    annotations: {
      summary: `${slo.displayName}: target missed`,
      description:
        `${slo.description} More than ${num(errorBudget(slo) * 100)}% of events were bad over the last 30 minutes ` +
        `and 5 minutes. (A ${num(slo.objective * 100)}% objective can burn its budget at most ` +
        `${num(maxBurnRate(slo))}x, so burn-rate alerts cannot work for it.)`,
      runbook_url: runbook(slo),
    },
  };
}

function absentAlert(slo: SloDefinition): AlertingRule {
  const metrics = sliMetrics(slo);
  return {
    alert: `${pascal(slo.id)}SliAbsent`,
    expr: metrics.map((m) => `absent_over_time(${m}[${ABSENT_WINDOW}])`).join('\nor\n'),
    for: '5m',
    labels: { ...slothLabels(slo), severity: 'ticket', sloth_severity: 'ticket' },
    annotations: {
      summary: `${slo.displayName}: SLI has no data`,
      description:
        `No samples of ${metrics.join(', ')} for ${ABSENT_WINDOW}: the SLO cannot be evaluated. ` +
        `Either the service is not scraped or it has served no traffic.`,
      runbook_url: `${RUNBOOK_DOC}#slo-sli-absent`,
    },
  };
}

function costRecordings(slo: ThresholdSlo): RecordingRule[] {
  const labels = slothLabels(slo);
  const sli = slo.sli;
  if (sli.kind === 'cost-per-mau') {
    return [
      { record: 'regatta:slo_llm_cost_per_mau:usd', expr: costPerMauQuery(sli), labels },
      { record: 'regatta:slo_monthly_active_users:sum', expr: activeUsersQuery(sli), labels },
    ];
  }
  return [
    { record: 'regatta:slo_cost_per_decision:usd_rate1h', expr: costPerDecisionQuery(sli, '1h'), labels },
    { record: 'regatta:slo_cost_per_decision:usd_rate1d', expr: costPerDecisionQuery(sli, '1d'), labels },
    { record: 'regatta:slo_decisions:rate1h', expr: decisionRateQuery(sli, '1h'), labels },
  ];
}

function costAlert(slo: ThresholdSlo): AlertingRule {
  const sli = slo.sli;
  const limit = num(slo.threshold.value);
  const base = {
    alert: `${pascal(slo.id)}SloBreached`,
    labels: { ...slothLabels(slo), severity: 'ticket', sloth_severity: 'ticket' },
  };
  if (sli.kind === 'cost-per-mau') {
    return {
      ...base,
      expr:
        `(regatta:slo_llm_cost_per_mau:usd{${id(slo)}} > ${limit})\nand on (sloth_id)\n` +
        `(regatta:slo_monthly_active_users:sum{${id(slo)}} >= ${num(sli.minActiveUsers)})`,
      for: '30m',
      annotations: {
        summary: `${slo.displayName}: target missed`,
        description:
          `${slo.description} It is above $${limit} per user this month ` +
          `(checked once at least ${num(sli.minActiveUsers)} users are active).`,
        runbook_url: runbook(slo),
      },
    };
  }
  return {
    ...base,
    expr:
      `(regatta:slo_cost_per_decision:usd_rate1d{${id(slo)}} > ${limit})\nand on (sloth_id)\n` +
      `(regatta:slo_cost_per_decision:usd_rate1h{${id(slo)}} > ${limit})\nand on (sloth_id)\n` +
      `(regatta:slo_decisions:rate1h{${id(slo)}} > ${num(sli.minDecisionsPerSecond)})`,
    for: '15m',
    annotations: {
      summary: `${slo.displayName}: target missed`,
      description: `${slo.description} It has been above $${limit} over the last day and the last hour.`,
      runbook_url: runbook(slo),
    },
  };
}

/** The alerts generated for an SLO. */
export function sloAlerts(slo: SloDefinition): SloAlerts {
  const absent = absentAlert(slo);
  if (slo.kind === 'threshold') return { threshold: costAlert(slo), absent };
  if (usesBurnRate(slo)) return { page: burnAlert(slo, 'page'), ticket: burnAlert(slo, 'ticket'), absent };
  return { threshold: ratioThresholdAlert(slo), absent };
}

/** The rules file of one SLO. */
export function sloRuleFile(slo: SloDefinition): RuleFile {
  const alerts = sloAlerts(slo);
  const alertRules = [alerts.page, alerts.ticket, alerts.threshold, alerts.absent].filter(
    (a): a is AlertingRule => a !== undefined,
  );
  if (slo.kind === 'ratio') {
    return {
      file: `slo-${slo.id}.yml`,
      groups: [
        sliRecordings(slo),
        metaRecordings(slo),
        { name: `sloth-slo-alerts-${slo.id}`, rules: alertRules },
      ],
    };
  }
  return {
    file: `slo-${slo.id}.yml`,
    groups: [
      { name: `regatta-slo-recordings-${slo.id}`, rules: costRecordings(slo) },
      { name: `regatta-slo-alerts-${slo.id}`, rules: alertRules },
    ],
  };
}

/** The alert for a scrape target that is down. */
export function targetDownAlert(): AlertingRule {
  return {
    alert: 'RegattaTargetDown',
    expr: `up{job=~"${SCRAPE_TARGETS.map((t) => t.job).join('|')}"} == 0`,
    for: '2m',
    labels: { severity: 'page' },
    annotations: {
      summary: '{{ $labels.job }} on {{ $labels.instance }} cannot be scraped',
      description:
        'Prometheus has failed to scrape {{ $labels.job }} for 2 minutes: the service is down or unreachable.',
      runbook_url: `${RUNBOOK_DOC}#target-down`,
    },
  };
}

/** Every rules file: one per SLO plus the scrape-target alerts. */
export function ruleFiles(slos: readonly SloDefinition[] = SLOS): RuleFile[] {
  return [
    ...slos.map(sloRuleFile),
    { file: 'regatta-targets.yml', groups: [{ name: 'regatta-targets', rules: [targetDownAlert()] }] },
  ];
}

/** The runbook anchors the rules link to in docs/operations.md. */
export function runbookAnchors(slos: readonly SloDefinition[] = SLOS): string[] {
  return [...new Set([...slos.map((s) => s.runbookAnchor), 'slo-sli-absent', 'target-down'])];
}
