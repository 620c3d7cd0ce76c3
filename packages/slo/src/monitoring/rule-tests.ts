import { SLOS, errorBudget, type RatioSlo, type SloDefinition, type ThresholdSlo } from '../definitions.js';
import { num } from '../promql.js';
import {
  sloAlerts,
  sloRuleFile,
  slothLabels,
  targetDownAlert,
  usesBurnRate,
  type AlertingRule,
} from './rules.js';

// `promtool test rules` files for every SLO. Input series are synthesised from traffic scenarios (events per
// minute and the share of them that is bad); the expected alerts follow from the burn-rate arithmetic, not
// from the rules, so a wrong rule fails its test: outages and slow burns must fire the right alert, healthy
// and low traffic must stay quiet, recovery must clear, a missing SLI must raise its absent alert.

/** One input series of a promtool test. */
export interface InputSeries {
  series: string;
  values: string;
}

/** One expected alert. */
export interface ExpectedAlert {
  exp_labels: Record<string, string>;
  exp_annotations: Record<string, string>;
}

/** Alert expectations at one evaluation time. */
export interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts: ExpectedAlert[];
}

/** A PromQL expectation (values are compared exactly, so expressions are rounded). */
export interface ExprTest {
  expr: string;
  eval_time: string;
  exp_samples: Array<{ labels: string; value: number }>;
}

/** One promtool test case. */
export interface PromtoolTest {
  name: string;
  interval: string;
  input_series: InputSeries[];
  alert_rule_test: AlertTest[];
  promql_expr_test?: ExprTest[];
}

/** A promtool unit-test file. */
export interface PromtoolTestFile {
  file: string;
  rule_files: string[];
  evaluation_interval: string;
  tests: PromtoolTest[];
}

/** A stretch of traffic: `minutes` long, `total` events per minute of which `bad` are bad. */
interface Phase {
  minutes: number;
  total: number;
  bad: number;
}

/** Events per minute in every scenario: 33 per second, well above every low-traffic guard. */
const TRAFFIC = 2000;

/** Counter values, one sample a minute from minute 0, rising by each phase's per-minute increment. */
export function counterValues(increments: ReadonlyArray<{ minutes: number; perMinute: number }>): string {
  const parts: string[] = [];
  let value = 0;
  increments.forEach(({ minutes, perMinute }, i) => {
    if (i === 0) {
      parts.push(`0+${num(perMinute)}x${minutes}`);
      value = perMinute * minutes;
      return;
    }
    value += perMinute;
    parts.push(`${num(value)}+${num(perMinute)}x${minutes - 1}`);
    value += perMinute * (minutes - 1);
  });
  return parts.join(' ');
}

/** Gauge values, one sample a minute, holding each phase's value. */
export function gaugeValues(phases: ReadonlyArray<{ minutes: number; value: number }>): string {
  return phases
    .map(({ minutes, value }, i) => `${num(value)}+0x${i === 0 ? minutes : minutes - 1}`)
    .join(' ');
}

// How each ratio SLI's events look as series: which series carry good, bad and total events.
function ratioSeries(slo: RatioSlo, phases: readonly Phase[]): InputSeries[] {
  const series = (name: string, perMinute: (p: Phase) => number): InputSeries => ({
    series: name,
    values: counterValues(phases.map((p) => ({ minutes: p.minutes, perMinute: perMinute(p) }))),
  });
  const sli = slo.sli;
  if (sli.kind === 'latency') {
    const labels = sli.histogram.startsWith('api_')
      ? 'method="POST",route="/v1/decisions",status_code="200"'
      : 'model="fraud",version="3"';
    return [
      series(`${sli.histogram}_bucket{${labels},le="${num(sli.thresholdSeconds)}"}`, (p) => p.total - p.bad),
      series(`${sli.histogram}_bucket{${labels},le="+Inf"}`, (p) => p.total),
      series(`${sli.histogram}_count{${labels}}`, (p) => p.total),
    ];
  }
  if (slo.id === 'api-availability') {
    const labels = 'method="POST",route="/v1/decisions"';
    return [
      series(`api_requests_total{${labels},status_code="200"}`, (p) => p.total - p.bad),
      series(`api_requests_total{${labels},status_code="404"}`, () => 0),
      series(`api_requests_total{${labels},status_code="503"}`, (p) => p.bad),
    ];
  }
  if (slo.id === 'cache-hit-rate') {
    // Half the hits come from memory, half from Redis after a memory miss.
    const memoryHits = (p: Phase) => Math.floor((p.total - p.bad) / 2);
    const redisHits = (p: Phase) => p.total - p.bad - memoryHits(p);
    const labels = 'cache="features"';
    return [
      series(`cache_requests_total{${labels},tier="memory",result="hit"}`, memoryHits),
      series(`cache_requests_total{${labels},tier="memory",result="miss"}`, (p) => p.total - memoryHits(p)),
      series(`cache_requests_total{${labels},tier="redis",result="hit"}`, redisHits),
      series(`cache_requests_total{${labels},tier="redis",result="miss"}`, (p) => p.bad),
    ];
  }
  throw new Error(`no test series for SLO ${slo.id}: add them to ratioSeries()`);
}

function expected(alert: AlertingRule, slo: SloDefinition): ExpectedAlert {
  return {
    exp_labels: { ...slothLabels(slo), ...alert.labels },
    exp_annotations: alert.annotations,
  };
}

function at(
  evalTime: string,
  alert: AlertingRule | undefined,
  firing: boolean,
  slo: SloDefinition,
): AlertTest[] {
  if (!alert) return [];
  return [{ eval_time: evalTime, alertname: alert.alert, exp_alerts: firing ? [expected(alert, slo)] : [] }];
}

function phase(slo: RatioSlo, minutes: number, burn: number | 'outage', total = TRAFFIC): Phase {
  const bad = burn === 'outage' ? total : Math.min(total, Math.round(burn * errorBudget(slo) * total));
  return { minutes, total, bad };
}

function sel(slo: SloDefinition): string {
  return `sloth_id="${slo.id}"`;
}

function burnRateTests(slo: RatioSlo): PromtoolTest[] {
  const { page, ticket, absent } = sloAlerts(slo);
  const both = (t: string, pageFiring: boolean, ticketFiring: boolean) => [
    ...at(t, page, pageFiring, slo),
    ...at(t, ticket, ticketFiring, slo),
  ];
  const test = (name: string, phases: Phase[], alerts: AlertTest[], exprs?: ExprTest[]): PromtoolTest => ({
    name: `${slo.id}: ${name}`,
    interval: '1m',
    input_series: ratioSeries(slo, phases),
    alert_rule_test: alerts,
    ...(exprs ? { promql_expr_test: exprs } : {}),
  });
  return [
    test(
      'healthy traffic at half the budget stays quiet',
      [phase(slo, 180, 0.5)],
      [...both('60m', false, false), ...both('180m', false, false), ...at('180m', absent, false, slo)],
      [
        {
          expr: `round(sum(slo:current_burn_rate:ratio{${sel(slo)}}) * 100)`,
          eval_time: '60m',
          exp_samples: [{ labels: '{}', value: 50 }],
        },
        {
          expr: `round(sum(slo:period_error_budget_remaining:ratio{${sel(slo)}}) * 100)`,
          eval_time: '180m',
          exp_samples: [{ labels: '{}', value: 50 }],
        },
      ],
    ),
    test('an outage pages within minutes', [phase(slo, 60, 'outage')], both('10m', true, true), [
      {
        expr: `round(sum(slo:sli_error:ratio_rate5m{${sel(slo)}}) * 1000)`,
        eval_time: '10m',
        exp_samples: [{ labels: '{}', value: 1000 }],
      },
    ]),
    test('a 10x burn pages through the 6h/30m windows', [phase(slo, 120, 10)], both('40m', true, true)),
    test('a 4x slow burn opens a ticket and does not page', [phase(slo, 240, 4)], both('180m', false, true)),
    test(
      'a 1.5x slow burn opens a ticket through the 3d/6h windows',
      [phase(slo, 420, 1.5)],
      both('400m', false, true),
    ),
    test(
      'alerts clear after recovery: the page once the short windows are clean, the ticket after 6h',
      [phase(slo, 30, 'outage'), phase(slo, 420, 0)],
      [...both('25m', true, true), ...both('75m', false, true), ...both('420m', false, false)],
    ),
    test(
      'an outage below the low-traffic guard does not alert',
      [phase(slo, 60, 'outage', 3)],
      [...both('30m', false, false), ...both('60m', false, false)],
    ),
    absentTest(slo),
  ];
}

function ratioThresholdTests(slo: RatioSlo): PromtoolTest[] {
  const { threshold, absent } = sloAlerts(slo);
  const test = (name: string, phases: Phase[], alerts: AlertTest[], exprs?: ExprTest[]): PromtoolTest => ({
    name: `${slo.id}: ${name}`,
    interval: '1m',
    input_series: ratioSeries(slo, phases),
    alert_rule_test: alerts,
    ...(exprs ? { promql_expr_test: exprs } : {}),
  });
  return [
    test(
      'healthy traffic stays quiet',
      [phase(slo, 120, 0.5)],
      [...at('60m', threshold, false, slo), ...at('120m', absent, false, slo)],
      [
        {
          expr: `round(sum(slo:period_error_budget_remaining:ratio{${sel(slo)}}) * 100)`,
          eval_time: '120m',
          exp_samples: [{ labels: '{}', value: 50 }],
        },
      ],
    ),
    test(
      'a sustained miss alerts after 10 minutes',
      [phase(slo, 60, 1.4)],
      [...at('5m', threshold, false, slo), ...at('30m', threshold, true, slo)],
    ),
    test(
      'the alert clears once the last 5 minutes are healthy',
      [phase(slo, 30, 1.4), phase(slo, 90, 0.5)],
      [...at('28m', threshold, true, slo), ...at('45m', threshold, false, slo)],
    ),
    test(
      'a miss below the low-traffic guard does not alert',
      [phase(slo, 60, 'outage', 3)],
      [...at('30m', threshold, false, slo)],
    ),
    absentTest(slo),
  ];
}

function absentTest(slo: SloDefinition): PromtoolTest {
  const { absent } = sloAlerts(slo);
  return {
    name: `${slo.id}: a missing SLI raises its absent alert`,
    interval: '1m',
    input_series: [],
    alert_rule_test: [...at('3m', absent, false, slo), ...at('20m', absent, true, slo)],
  };
}

function costPerDecisionTests(slo: ThresholdSlo): PromtoolTest[] {
  const { threshold } = sloAlerts(slo);
  const sli = slo.sli;
  if (sli.kind !== 'cost-per-decision') throw new Error(`${slo.id} is not a cost-per-decision SLO`);
  const llm = `${sli.llmCostCounter}{tenant="acme",model="small"}`;
  // 100 decisions and 6 CPU seconds a minute; the LLM spend per minute decides the cost per decision.
  const series = (phases: ReadonlyArray<{ minutes: number; llmUsd: number; decisions?: number }>) => [
    {
      series: `${sli.decisionsCounter}{flow="decide",outcome="ok"}`,
      values: counterValues(phases.map((p) => ({ minutes: p.minutes, perMinute: p.decisions ?? 100 }))),
    },
    {
      series: sli.cpuSecondsCounter,
      values: counterValues(phases.map((p) => ({ minutes: p.minutes, perMinute: 6 }))),
    },
    { series: llm, values: counterValues(phases.map((p) => ({ minutes: p.minutes, perMinute: p.llmUsd }))) },
  ];
  const name = (n: string) => `${slo.id}: ${n}`;
  return [
    {
      name: name('half a cent per decision stays quiet'),
      interval: '1m',
      input_series: series([{ minutes: 120, llmUsd: 0.5 }]),
      alert_rule_test: at('60m', threshold, false, slo).concat(at('120m', threshold, false, slo)),
      promql_expr_test: [
        {
          expr: `round(sum(regatta:slo_cost_per_decision:usd_rate1h{${sel(slo)}}) * 100000)`,
          eval_time: '60m',
          exp_samples: [{ labels: '{}', value: 500 }],
        },
      ],
    },
    {
      name: name('two cents per decision alerts'),
      interval: '1m',
      input_series: series([{ minutes: 120, llmUsd: 2 }]),
      alert_rule_test: at('10m', threshold, false, slo).concat(at('60m', threshold, true, slo)),
    },
    {
      name: name('the alert clears once the last hour is back under target'),
      interval: '1m',
      input_series: series([
        { minutes: 60, llmUsd: 2 },
        { minutes: 180, llmUsd: 0.5 },
      ]),
      alert_rule_test: at('60m', threshold, true, slo).concat(at('200m', threshold, false, slo)),
    },
    {
      name: name('expensive decisions below the traffic guard do not alert'),
      interval: '1m',
      input_series: series([{ minutes: 60, llmUsd: 1, decisions: 0.5 }]),
      alert_rule_test: at('60m', threshold, false, slo),
    },
    {
      name: name('compute alone is priced when no LLM was called'),
      interval: '1m',
      input_series: series([{ minutes: 60, llmUsd: 0 }]).filter((s) => s.series !== llm),
      alert_rule_test: at('60m', threshold, false, slo),
      promql_expr_test: [
        {
          // 6 CPU s/min over 100 decisions/min at the default vCPU-second price, in nano-dollars.
          expr: `round(sum(regatta:slo_cost_per_decision:usd_rate1h{${sel(slo)}}) * 1e9)`,
          eval_time: '60m',
          exp_samples: [{ labels: '{}', value: Math.round(0.06 * sli.vcpuSecondUsd * 1e9) }],
        },
      ],
    },
    absentTest(slo),
  ];
}

function costPerMauTests(slo: ThresholdSlo): PromtoolTest[] {
  const { threshold } = sloAlerts(slo);
  const tenant = (name: string, phases: ReadonlyArray<{ minutes: number; cost: number; users: number }>) => [
    {
      series: `llm_cost_per_mau_usd{tenant="${name}"}`,
      values: gaugeValues(phases.map((p) => ({ minutes: p.minutes, value: p.cost }))),
    },
    {
      series: `llm_monthly_active_users{tenant="${name}"}`,
      values: gaugeValues(phases.map((p) => ({ minutes: p.minutes, value: p.users }))),
    },
  ];
  const name = (n: string) => `${slo.id}: ${n}`;
  return [
    {
      name: name('three cents per user stays quiet'),
      interval: '1m',
      input_series: tenant('acme', [{ minutes: 60, cost: 0.03, users: 1000 }]),
      alert_rule_test: at('60m', threshold, false, slo),
      promql_expr_test: [
        {
          expr: `round(sum(regatta:slo_llm_cost_per_mau:usd{${sel(slo)}}) * 1000)`,
          eval_time: '60m',
          exp_samples: [{ labels: '{}', value: 30 }],
        },
      ],
    },
    {
      name: name('eight cents per user alerts after 30 minutes'),
      interval: '1m',
      input_series: tenant('acme', [{ minutes: 60, cost: 0.08, users: 1000 }]),
      alert_rule_test: at('20m', threshold, false, slo).concat(at('60m', threshold, true, slo)),
    },
    {
      name: name('the fleet figure weights tenants by their users'),
      interval: '1m',
      input_series: [
        ...tenant('acme', [{ minutes: 60, cost: 0.08, users: 1000 }]),
        ...tenant('globex', [{ minutes: 60, cost: 0.01, users: 3000 }]),
      ],
      alert_rule_test: at('60m', threshold, false, slo),
      promql_expr_test: [
        {
          expr: `round(sum(regatta:slo_llm_cost_per_mau:usd{${sel(slo)}}) * 10000)`,
          eval_time: '60m',
          exp_samples: [{ labels: '{}', value: 275 }],
        },
      ],
    },
    {
      name: name('a handful of users early in the month does not alert'),
      interval: '1m',
      input_series: tenant('acme', [{ minutes: 60, cost: 0.5, users: 10 }]),
      alert_rule_test: at('60m', threshold, false, slo),
    },
    {
      name: name('the alert clears when spend per user falls back'),
      interval: '1m',
      input_series: tenant('acme', [
        { minutes: 60, cost: 0.08, users: 1000 },
        { minutes: 60, cost: 0.03, users: 1000 },
      ]),
      alert_rule_test: at('50m', threshold, true, slo).concat(at('90m', threshold, false, slo)),
    },
    absentTest(slo),
  ];
}

function sloTests(slo: SloDefinition): PromtoolTest[] {
  if (slo.kind === 'ratio') return usesBurnRate(slo) ? burnRateTests(slo) : ratioThresholdTests(slo);
  return slo.sli.kind === 'cost-per-mau' ? costPerMauTests(slo) : costPerDecisionTests(slo);
}

function targetTests(): PromtoolTest[] {
  const alert = targetDownAlert();
  const firing = (job: string, instance: string): ExpectedAlert => ({
    exp_labels: { ...alert.labels, job, instance },
    exp_annotations: {
      summary: `${job} on ${instance} cannot be scraped`,
      description: `Prometheus has failed to scrape ${job} for 2 minutes: the service is down or unreachable.`,
      runbook_url: alert.annotations.runbook_url!,
    },
  });
  return [
    {
      name: 'a target that stops answering pages after 2 minutes',
      interval: '1m',
      input_series: [
        { series: 'up{job="inference",instance="inference:9101"}', values: '1+0x10 0+0x10' },
        { series: 'up{job="gateway",instance="gateway:9100"}', values: '1+0x20' },
      ],
      alert_rule_test: [
        { eval_time: '10m', alertname: alert.alert, exp_alerts: [] },
        { eval_time: '12m', alertname: alert.alert, exp_alerts: [] },
        { eval_time: '15m', alertname: alert.alert, exp_alerts: [firing('inference', 'inference:9101')] },
      ],
    },
  ];
}

/** Every promtool unit-test file (paths relative to `prometheus/tests/`). */
export function ruleTestFiles(slos: readonly SloDefinition[] = SLOS): PromtoolTestFile[] {
  return [
    ...slos.map((slo) => ({
      file: `slo-${slo.id}.test.yml`,
      rule_files: [`../rules/${sloRuleFile(slo).file}`],
      evaluation_interval: '1m',
      tests: sloTests(slo),
    })),
    {
      file: 'regatta-targets.test.yml',
      rule_files: ['../rules/regatta-targets.yml'],
      evaluation_interval: '1m',
      tests: targetTests(),
    },
  ];
}
