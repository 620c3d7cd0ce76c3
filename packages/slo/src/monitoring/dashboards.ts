import {
  BigValueColorMode,
  BigValueGraphMode,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  VizLegendOptionsBuilder,
  type DataSourceRef,
} from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type Dashboard,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { SLOS, errorBudget, type RatioSlo, type SloDefinition, type ThresholdSlo } from '../definitions.js';
import { num } from '../promql.js';
import { usesBurnRate } from './rules.js';

// Grafana dashboards built with the Grafana Foundation SDK's typed builders. Every query uses
// `$__rate_interval`; the generator's tests substitute it and check that each query parses with promtool.

/** The Prometheus datasource every panel reads (provisioned with this uid). */
export const PROMETHEUS_DS: DataSourceRef = { type: 'prometheus', uid: 'prometheus' };

const RATE = '$__rate_interval';

type Query = readonly [expr: string, legend: string];

interface PanelOptions {
  description?: string;
  unit?: string;
  min?: number;
  max?: number;
  span?: number;
  /** Draws a dashed line at the SLO target. */
  target?: number;
}

function query([expr, legend]: Query, i: number): DataqueryBuilder {
  return new DataqueryBuilder()
    .expr(expr)
    .legendFormat(legend)
    .refId(String.fromCharCode(65 + i))
    .datasource(PROMETHEUS_DS);
}

function targetSteps(target: number | undefined) {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(
    target === undefined
      ? [{ value: null, color: 'green' }]
      : [
          { value: null, color: 'green' },
          { value: target, color: 'red' },
        ],
  );
}

function graph(title: string, queries: readonly Query[], opts: PanelOptions = {}): TimeseriesPanelBuilder {
  const panel = new TimeseriesPanelBuilder()
    .title(title)
    .datasource(PROMETHEUS_DS)
    .span(opts.span ?? 12)
    .height(8)
    .unit(opts.unit ?? 'short')
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.List)
        .placement(LegendPlacement.Bottom),
    )
    .lineWidth(1)
    .fillOpacity(10);
  queries.forEach((q, i) => panel.withTarget(query(q, i)));
  if (opts.description) panel.description(opts.description);
  if (opts.min !== undefined) panel.min(opts.min);
  if (opts.max !== undefined) panel.max(opts.max);
  if (opts.target !== undefined) {
    panel
      .thresholds(targetSteps(opts.target))
      .thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed));
  }
  return panel;
}

function stat(
  title: string,
  q: Query,
  opts: PanelOptions & { steps?: Array<{ value: number | null; color: string }> } = {},
) {
  const panel = new StatPanelBuilder()
    .title(title)
    .datasource(PROMETHEUS_DS)
    .span(opts.span ?? 6)
    .height(5)
    .unit(opts.unit ?? 'short')
    .graphMode(BigValueGraphMode.Area)
    .colorMode(BigValueColorMode.Value)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']))
    .withTarget(query(q, 0));
  if (opts.description) panel.description(opts.description);
  if (opts.steps)
    panel.thresholds(new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(opts.steps));
  return panel;
}

function dashboard(uid: string, title: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['regatta'])
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('utc')
    .editable();
}

function quantiles(histogram: string, by = '', filter = ''): Query[] {
  const group = by ? `le, ${by}` : 'le';
  const suffix = by ? ` {{${by}}}` : '';
  return [0.5, 0.95, 0.99].map((q): Query => [
    `histogram_quantile(${q}, sum by (${group}) (rate(${histogram}_bucket${filter}[${RATE}])))`,
    `p${q * 100}${suffix}`,
  ]);
}

const rate = (expr: string, by = '') => `sum${by ? ` by (${by})` : ''} (rate(${expr}[${RATE}]))`;

function redDashboard(): Dashboard {
  const natsErrors = (service: string): Query => [
    `${rate(`messaging_server_operation_duration_seconds_count{service="${service}",outcome!="ok"}`)}\n/\n` +
      rate(`messaging_server_operation_duration_seconds_count{service="${service}"}`),
    'error ratio',
  ];
  return dashboard('regatta-red', 'Regatta / RED per service', 'Rate, errors and duration of every service.')
    .withRow(new RowBuilder('gateway'))
    .withPanel(
      graph('Requests/s by route', [[rate('api_requests_total', 'route'), '{{route}}']], {
        span: 8,
        unit: 'reqps',
      }),
    )
    .withPanel(
      graph(
        '5xx ratio by route',
        [
          [
            `${rate('api_requests_total{status_code=~"5.."}', 'route')}\n/\n${rate('api_requests_total', 'route')}`,
            '{{route}}',
          ],
        ],
        { span: 8, unit: 'percentunit', min: 0 },
      ),
    )
    .withPanel(
      graph('Latency', quantiles('api_request_duration_seconds'), { span: 8, unit: 's', target: 0.08 }),
    )
    .withRow(new RowBuilder('inference'))
    .withPanel(
      graph('Requests/s by outcome', [[rate('inference_requests_total', 'outcome'), '{{outcome}}']], {
        span: 8,
        unit: 'reqps',
      }),
    )
    .withPanel(
      graph(
        'Failure ratio by model',
        [
          [
            `${rate('inference_requests_total{outcome!="ok"}', 'model')}\n/\n${rate('inference_requests_total', 'model')}`,
            '{{model}}',
          ],
        ],
        { span: 8, unit: 'percentunit', min: 0 },
      ),
    )
    .withPanel(
      graph('Latency', quantiles('inference_request_duration_seconds'), { span: 8, unit: 's', target: 0.05 }),
    )
    .withRow(new RowBuilder('features'))
    .withPanel(
      graph('Requests/s', [[rate('features_request_duration_seconds_count'), 'requests']], {
        span: 8,
        unit: 'reqps',
      }),
    )
    .withPanel(graph('NATS error ratio', [natsErrors('features')], { span: 8, unit: 'percentunit', min: 0 }))
    .withPanel(graph('Latency', quantiles('features_request_duration_seconds'), { span: 8, unit: 's' }))
    .withRow(new RowBuilder('llm-proxy'))
    .withPanel(
      graph('LLM operations/s', [[rate('gen_ai_client_operation_duration_seconds_count'), 'operations']], {
        span: 8,
        unit: 'ops',
      }),
    )
    .withPanel(graph('NATS error ratio', [natsErrors('llm-proxy')], { span: 8, unit: 'percentunit', min: 0 }))
    .withPanel(
      graph('LLM operation latency', quantiles('gen_ai_client_operation_duration_seconds'), {
        span: 8,
        unit: 's',
      }),
    )
    .build();
}

function ratioSloPanels(slo: RatioSlo, row: RowBuilder, builder: DashboardBuilder): void {
  const id = `sloth_id="${slo.id}"`;
  builder
    .withRow(row)
    .withPanel(
      stat(
        `SLI over 30 days (objective ${num(slo.objective * 100)}%)`,
        [`1 - slo:sli_error:ratio_rate30d{${id}}`, 'SLI'],
        {
          unit: 'percentunit',
          description: slo.description,
          steps: [
            { value: null, color: 'red' },
            { value: slo.objective, color: 'green' },
          ],
        },
      ),
    )
    .withPanel(
      stat(
        'Error budget remaining (30 days)',
        [`slo:period_error_budget_remaining:ratio{${id}}`, 'remaining'],
        {
          unit: 'percentunit',
          steps: [
            { value: null, color: 'red' },
            { value: 0, color: 'orange' },
            { value: 0.25, color: 'green' },
          ],
        },
      ),
    )
    .withPanel(
      graph(
        usesBurnRate(slo) ? 'Burn rate (page at 14.4x and 6x, ticket at 3x and 1x)' : 'Burn rate',
        [
          [`slo:current_burn_rate:ratio{${id}}`, '5m'],
          [
            `slo:sli_error:ratio_rate1h{${id}}\n/ on (sloth_id) group_left\nslo:error_budget:ratio{${id}}`,
            '1h',
          ],
          [
            `slo:sli_error:ratio_rate6h{${id}}\n/ on (sloth_id) group_left\nslo:error_budget:ratio{${id}}`,
            '6h',
          ],
        ],
        {
          span: 12,
          min: 0,
          target: 1,
          description: 'How many times faster than sustainable the budget is being spent.',
        },
      ),
    )
    .withPanel(
      graph(
        `Error ratio vs budget (${num(errorBudget(slo) * 100)}%)`,
        [
          [`slo:sli_error:ratio_rate5m{${id}}`, '5m'],
          [`slo:sli_error:ratio_rate1h{${id}}`, '1h'],
          [`slo:error_budget:ratio{${id}}`, 'budget'],
        ],
        { span: 12, unit: 'percentunit', min: 0 },
      ),
    );
  if (slo.sli.kind === 'latency') {
    builder.withPanel(
      graph(`${slo.sli.histogram} quantiles`, quantiles(slo.sli.histogram), {
        span: 12,
        unit: 's',
        target: slo.sli.thresholdSeconds,
      }),
    );
  }
}

function thresholdSloPanels(slo: ThresholdSlo, row: RowBuilder, builder: DashboardBuilder): void {
  const id = `sloth_id="${slo.id}"`;
  builder.withRow(row);
  if (slo.sli.kind === 'cost-per-mau') {
    builder
      .withPanel(
        graph('Fleet LLM cost per MAU', [[`regatta:slo_llm_cost_per_mau:usd{${id}}`, 'fleet']], {
          span: 12,
          unit: 'currencyUSD',
          min: 0,
          target: slo.threshold.value,
          description: slo.description,
        }),
      )
      .withPanel(
        graph('LLM cost per MAU by tenant', [[`${slo.sli.costPerMauGauge}`, '{{tenant}}']], {
          span: 12,
          unit: 'currencyUSD',
          min: 0,
          target: slo.threshold.value,
        }),
      );
    return;
  }
  builder
    .withPanel(
      graph(
        'Cost per decision',
        [
          [`regatta:slo_cost_per_decision:usd_rate1h{${id}}`, '1h'],
          [`regatta:slo_cost_per_decision:usd_rate1d{${id}}`, '1d'],
          [`${rate('decision_cost_usd_total')}\n/\n${rate('decisions_total')}`, 'reported by services'],
        ],
        { span: 12, unit: 'currencyUSD', min: 0, target: slo.threshold.value, description: slo.description },
      ),
    )
    .withPanel(
      graph(
        'Decision cost split',
        [
          [`${rate('llm_cost_usd_total')}\n/\n${rate('decisions_total')}`, 'LLM'],
          [
            `${rate('decision_cpu_seconds_total')} * ${num(slo.sli.vcpuSecondUsd)}\n/\n${rate('decisions_total')}`,
            'compute',
          ],
        ],
        { span: 12, unit: 'currencyUSD', min: 0 },
      ),
    );
}

function sloDashboard(slos: readonly SloDefinition[]): Dashboard {
  const builder = dashboard(
    'regatta-slo',
    'Regatta / SLOs and error budgets',
    'Every Regatta SLO: SLI, error budget left, burn rates. Generated from packages/slo definitions.',
  );
  builder
    .withRow(new RowBuilder('In-process view (slo_* gauges, rolling 10 minutes)'))
    .withPanel(
      graph(
        'Error budget remaining by SLO and service',
        [['slo_error_budget_remaining_ratio', '{{slo}} {{service}}']],
        {
          span: 12,
          unit: 'percentunit',
        },
      ),
    )
    .withPanel(
      graph(
        'Latency percentiles',
        [
          ['slo_api_latency_p50_seconds', 'API p50 {{service}}'],
          ['slo_api_latency_p95_seconds', 'API p95 {{service}}'],
          ['slo_inference_latency_p95_seconds', 'inference p95 {{service}}'],
        ],
        { span: 12, unit: 's', min: 0 },
      ),
    );
  for (const slo of slos) {
    const row = new RowBuilder(slo.displayName);
    if (slo.kind === 'ratio') ratioSloPanels(slo, row, builder);
    else thresholdSloPanels(slo, row, builder);
  }
  return builder.build();
}

function inferenceDashboard(): Dashboard {
  return dashboard(
    'regatta-inference',
    'Regatta / Inference batching',
    'Dynamic batching: batch sizes, queue wait against compute.',
  )
    .withRow(new RowBuilder('Batching'))
    .withPanel(
      graph(
        'Mean batch size (rows per execution)',
        [[`${rate('inference_rows_total')}\n/\n${rate('inference_executions_total')}`, 'rows/execution']],
        { span: 8, min: 0 },
      ),
    )
    .withPanel(
      graph(
        'Batch rows quantiles',
        [0.5, 0.95].map((q): Query => [
          `histogram_quantile(${q}, ${rate('inference_batch_rows_bucket', 'le')})`,
          `p${q * 100}`,
        ]),
        { span: 8, min: 0 },
      ),
    )
    .withPanel(
      graph(
        'Executions and rows per second',
        [
          [rate('inference_executions_total'), 'executions/s'],
          [rate('inference_rows_total'), 'rows/s'],
        ],
        { span: 8, min: 0 },
      ),
    )
    .withRow(new RowBuilder('Where the time goes'))
    .withPanel(
      graph(
        'Queue wait vs compute (p95)',
        [
          [
            `histogram_quantile(0.95, ${rate('inference_queue_wait_seconds_bucket', 'le')})`,
            'queue wait p95',
          ],
          [`histogram_quantile(0.95, ${rate('inference_compute_seconds_bucket', 'le')})`, 'compute p95'],
        ],
        { span: 12, unit: 's', min: 0 },
      ),
    )
    .withPanel(
      graph(
        'Queue wait vs compute (mean)',
        [
          [
            `${rate('inference_queue_wait_seconds_sum')}\n/\n${rate('inference_queue_wait_seconds_count')}`,
            'queue wait',
          ],
          [
            `${rate('inference_compute_seconds_sum')}\n/\n${rate('inference_compute_seconds_count')}`,
            'compute',
          ],
        ],
        { span: 12, unit: 's', min: 0 },
      ),
    )
    .withRow(new RowBuilder('Load and shedding'))
    .withPanel(
      graph('Pending requests', [['sum by (instance) (inference_pending_requests)', '{{instance}}']], {
        span: 8,
        min: 0,
      }),
    )
    .withPanel(
      graph('Rejections/s by reason', [[rate('inference_rejections_total', 'reason'), '{{reason}}']], {
        span: 8,
        min: 0,
      }),
    )
    .withPanel(
      graph(
        'Requests/s by model and outcome',
        [[rate('inference_requests_total', 'model, outcome'), '{{model}} {{outcome}}']],
        {
          span: 8,
          unit: 'reqps',
          min: 0,
        },
      ),
    )
    .build();
}

function featuresDashboard(): Dashboard {
  const all = rate('features_values_total');
  return dashboard(
    'regatta-features',
    'Regatta / Features',
    'Online feature serving: latency, value statuses and freshness.',
  )
    .withRow(new RowBuilder('Serving'))
    .withPanel(
      graph('Requests/s', [[rate('features_request_duration_seconds_count'), 'requests']], {
        span: 8,
        unit: 'reqps',
      }),
    )
    .withPanel(graph('Latency', quantiles('features_request_duration_seconds'), { span: 16, unit: 's' }))
    .withRow(new RowBuilder('Values'))
    .withPanel(
      graph('Values/s by status', [[rate('features_values_total', 'status'), '{{status}}']], {
        span: 12,
        min: 0,
      }),
    )
    .withPanel(
      graph(
        'Share of values by status',
        [
          [
            `${rate('features_values_total', 'status')}\n/ ignoring (status) group_left\n${all}`,
            '{{status}}',
          ],
        ],
        { span: 12, unit: 'percentunit', min: 0, max: 1 },
      ),
    )
    .withRow(new RowBuilder('Freshness'))
    .withPanel(
      graph('Age of served values', quantiles('features_value_age_seconds'), {
        span: 24,
        unit: 's',
        min: 0,
        description: 'How old the feature values served were (now minus their event timestamp).',
      }),
    )
    .withRow(new RowBuilder('Caches (all services)'))
    .withPanel(
      graph(
        'Hit ratio by cache',
        [
          [
            `${rate('cache_requests_total{result="hit"}', 'cache')}\n/\n${rate('cache_requests_total{tier="memory"}', 'cache')}`,
            '{{cache}}',
          ],
        ],
        { span: 12, unit: 'percentunit', min: 0, max: 1, target: 0.3 },
      ),
    )
    .withPanel(
      graph(
        'Lookups/s by tier and result',
        [[rate('cache_requests_total', 'tier, result'), '{{tier}} {{result}}']],
        {
          span: 12,
          min: 0,
        },
      ),
    )
    .build();
}

function llmDashboard(): Dashboard {
  return dashboard(
    'regatta-llm',
    'Regatta / LLM proxy',
    'Tokens, spend, cost per user, cache and request coalescing.',
  )
    .withRow(new RowBuilder('Tokens and latency'))
    .withPanel(
      graph('Tokens/s by model and type', [[rate('llm_tokens_total', 'model, type'), '{{model}} {{type}}']], {
        span: 12,
        min: 0,
      }),
    )
    .withPanel(
      graph(
        'Tokens per operation',
        [0.5, 0.95].map((q): Query => [
          `histogram_quantile(${q}, ${rate('gen_ai_client_token_usage_bucket', 'le')})`,
          `p${q * 100}`,
        ]),
        { span: 12, min: 0 },
      ),
    )
    .withPanel(
      graph('Operation latency', quantiles('gen_ai_client_operation_duration_seconds'), {
        span: 24,
        unit: 's',
      }),
    )
    .withRow(new RowBuilder('Spend'))
    .withPanel(
      graph('Spend per hour by model', [[`${rate('llm_cost_usd_total', 'model')} * 3600`, '{{model}}']], {
        span: 12,
        unit: 'currencyUSD',
        min: 0,
      }),
    )
    .withPanel(
      graph('Spend per hour by tenant', [[`${rate('llm_cost_usd_total', 'tenant')} * 3600`, '{{tenant}}']], {
        span: 12,
        unit: 'currencyUSD',
        min: 0,
      }),
    )
    .withPanel(
      graph('Cost per MAU by tenant', [['llm_cost_per_mau_usd', '{{tenant}}']], {
        span: 12,
        unit: 'currencyUSD',
        min: 0,
        target: 0.05,
      }),
    )
    .withPanel(
      graph('Monthly active users by tenant', [['llm_monthly_active_users', '{{tenant}}']], {
        span: 12,
        min: 0,
      }),
    )
    .withRow(new RowBuilder('Cache and coalescing'))
    .withPanel(
      graph(
        'LLM cache hit ratio',
        [
          [
            `${rate('llm_cache_requests_total{result="hit"}')}\n/\n${rate('llm_cache_requests_total')}`,
            'hit ratio',
          ],
        ],
        { span: 12, unit: 'percentunit', min: 0, max: 1 },
      ),
    )
    .withPanel(
      graph(
        'Coalesced requests/s',
        [
          [rate('llm_coalesced_requests_total'), 'coalesced'],
          [rate('llm_cache_requests_total', 'result'), 'cache {{result}}'],
        ],
        {
          span: 12,
          min: 0,
          description:
            'Requests that joined an identical call already in flight instead of paying for their own.',
        },
      ),
    )
    .build();
}

function natsDashboard(): Dashboard {
  const client = 'messaging_client_operation_duration_seconds';
  const server = 'messaging_server_operation_duration_seconds';
  return dashboard(
    'regatta-nats',
    'Regatta / NATS',
    'Request/reply over NATS: rates, errors and latency per subject, from both ends.',
  )
    .withRow(new RowBuilder('Callers (client side)'))
    .withPanel(
      graph('Requests/s by subject', [[rate(`${client}_count`, 'subject'), '{{subject}}']], {
        span: 8,
        unit: 'reqps',
        min: 0,
      }),
    )
    .withPanel(
      graph(
        'Error ratio by subject',
        [
          [
            `${rate(`${client}_count{outcome!="ok"}`, 'subject')}\n/\n${rate(`${client}_count`, 'subject')}`,
            '{{subject}}',
          ],
        ],
        { span: 8, unit: 'percentunit', min: 0 },
      ),
    )
    .withPanel(
      graph(
        'Round trip p95 by subject',
        [[`histogram_quantile(0.95, ${rate(`${client}_bucket`, 'le, subject')})`, '{{subject}}']],
        { span: 8, unit: 's' },
      ),
    )
    .withRow(new RowBuilder('Handlers (server side)'))
    .withPanel(
      graph(
        'Failures/s by subject and outcome',
        [[rate(`${server}_count{outcome!="ok"}`, 'subject, outcome'), '{{subject}} {{outcome}}']],
        {
          span: 8,
          min: 0,
        },
      ),
    )
    .withPanel(
      graph(
        'Handling p95 by subject',
        [[`histogram_quantile(0.95, ${rate(`${server}_bucket`, 'le, subject')})`, '{{subject}}']],
        { span: 8, unit: 's' },
      ),
    )
    .withPanel(
      graph(
        'In-flight requests by service',
        [['sum by (service) (messaging_server_in_flight)', '{{service}}']],
        { span: 8, min: 0 },
      ),
    )
    .build();
}

/** Every dashboard, keyed by its file name under `grafana/dashboards/`. */
export function dashboards(slos: readonly SloDefinition[] = SLOS): Record<string, Dashboard> {
  const boards: Record<string, Dashboard> = {
    'regatta-red.json': redDashboard(),
    'regatta-slo.json': sloDashboard(slos),
    'regatta-inference.json': inferenceDashboard(),
    'regatta-features.json': featuresDashboard(),
    'regatta-llm.json': llmDashboard(),
    'regatta-nats.json': natsDashboard(),
  };
  // The builders leave rows at id 0 and panels without one; Grafana's editor needs ids unique per dashboard.
  for (const board of Object.values(boards)) board.panels?.forEach((panel, i) => (panel.id = i + 1));
  return boards;
}

/** Every PromQL expression in a dashboard (for the parse check). */
export function dashboardQueries(board: Dashboard): string[] {
  const exprs: string[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (key === 'expr' && typeof inner === 'string') exprs.push(inner);
        else visit(inner);
      }
    }
  };
  visit(board);
  return exprs;
}
