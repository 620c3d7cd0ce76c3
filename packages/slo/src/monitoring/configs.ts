import { SLOS, type SloDefinition } from '../definitions.js';

// Configuration of the monitoring stack: Prometheus, Alertmanager, Grafana provisioning, the CloudWatch
// dashboard and the docker compose overlay that runs them beside the services.

/** A service Prometheus scrapes. */
export interface ScrapeTarget {
  job: string;
  port: number;
  path: string;
  note: string;
}

/** The four services and where their metrics are served (host name = compose service name). */
export const SCRAPE_TARGETS: readonly ScrapeTarget[] = [
  {
    job: 'gateway',
    port: 9100,
    path: '/metrics',
    note: 'the gateway admin listener (ADMIN_PORT=9100); /metrics is not on the public port in production',
  },
  { job: 'inference', port: 9101, path: '/metrics', note: 'metrics listener' },
  { job: 'features', port: 9102, path: '/metrics', note: 'metrics listener' },
  { job: 'llm-proxy', port: 9103, path: '/metrics', note: 'metrics listener' },
];

/** Pinned images of the monitoring stack. */
export const IMAGES = {
  prometheus: 'prom/prometheus:v2.55.1',
  alertmanager: 'prom/alertmanager:v0.27.0',
  grafana: 'grafana/grafana:11.4.0',
  pyroscope: 'grafana/pyroscope:1.10.0',
  jaeger: 'jaegertracing/all-in-one:1.62.0',
} as const;

/** prometheus.yml: scrape every service (each series gets a `service` label), load the rules, alert. */
export function prometheusConfig(): Record<string, unknown> {
  return {
    global: { scrape_interval: '15s', scrape_timeout: '10s', evaluation_interval: '30s' },
    rule_files: ['rules/*.yml'],
    alerting: { alertmanagers: [{ static_configs: [{ targets: ['alertmanager:9093'] }] }] },
    scrape_configs: [
      ...SCRAPE_TARGETS.map((t) => ({
        job_name: t.job,
        metrics_path: t.path,
        static_configs: [{ targets: [`${t.job}:${t.port}`], labels: { service: t.job } }],
      })),
      {
        job_name: 'prometheus',
        static_configs: [{ targets: ['localhost:9090'], labels: { service: 'prometheus' } }],
      },
    ],
  };
}

/** alertmanager.yml: pages and tickets to their receivers; a page silences tickets of the same SLO. */
export function alertmanagerConfig(): Record<string, unknown> {
  return {
    global: { resolve_timeout: '5m' },
    route: {
      receiver: 'ticket',
      group_by: ['alertname', 'sloth_id'],
      group_wait: '30s',
      group_interval: '5m',
      repeat_interval: '12h',
      routes: [
        { receiver: 'page', matchers: ['severity="page"'], group_wait: '10s', repeat_interval: '1h' },
        { receiver: 'ticket', matchers: ['severity="ticket"'] },
      ],
    },
    inhibit_rules: [
      { source_matchers: ['severity="page"'], target_matchers: ['severity="ticket"'], equal: ['sloth_id'] },
    ],
    // Receivers carry no integration here: attach the on-call pager to `page` and the tracker to `ticket`
    // in the deployment's copy (credentials never live in the repository).
    receivers: [{ name: 'page' }, { name: 'ticket' }],
  };
}

/** Grafana datasources: Prometheus (default), Jaeger for traces, Pyroscope for profiles, Alertmanager. */
export function grafanaDatasources(): Record<string, unknown> {
  return {
    apiVersion: 1,
    datasources: [
      {
        name: 'Prometheus',
        uid: 'prometheus',
        type: 'prometheus',
        access: 'proxy',
        url: 'http://prometheus:9090',
        isDefault: true,
        jsonData: {
          timeInterval: '15s',
          exemplarTraceIdDestinations: [{ name: 'trace_id', datasourceUid: 'jaeger' }],
        },
      },
      { name: 'Jaeger', uid: 'jaeger', type: 'jaeger', access: 'proxy', url: 'http://jaeger:16686' },
      {
        name: 'Pyroscope',
        uid: 'pyroscope',
        type: 'grafana-pyroscope-datasource',
        access: 'proxy',
        url: 'http://pyroscope:4040',
      },
      {
        name: 'Alertmanager',
        uid: 'alertmanager',
        type: 'alertmanager',
        access: 'proxy',
        url: 'http://alertmanager:9093',
        jsonData: { implementation: 'prometheus' },
      },
    ],
  };
}

/** Grafana dashboard provider: the generated JSON files, read-only in the UI. */
export function grafanaDashboardProvider(): Record<string, unknown> {
  return {
    apiVersion: 1,
    providers: [
      {
        name: 'regatta',
        orgId: 1,
        folder: 'Regatta',
        type: 'file',
        disableDeletion: true,
        allowUiUpdates: false,
        updateIntervalSeconds: 30,
        options: { path: '/var/lib/grafana/dashboards' },
      },
    ],
  };
}

/** Where the CloudWatch dashboard expects the slo_* gauges (CloudWatch agent Prometheus scraping / EMF). */
export const CLOUDWATCH_NAMESPACE = 'Regatta';
/** Region written into the dashboard body; deployments substitute their own. */
export const CLOUDWATCH_REGION = 'us-east-1';

function metricWidget(
  title: string,
  metric: string,
  stat: 'Maximum' | 'Minimum' | 'Average',
  target: number | undefined,
  position: { x: number; y: number },
  extraDimension?: string,
): Record<string, unknown> {
  const dims = extraDimension ? `service,${extraDimension}` : 'service';
  return {
    type: 'metric',
    ...position,
    width: 12,
    height: 6,
    properties: {
      title,
      region: CLOUDWATCH_REGION,
      view: 'timeSeries',
      stacked: false,
      period: 60,
      stat,
      metrics: [
        [
          {
            expression: `SEARCH('{${CLOUDWATCH_NAMESPACE},${dims}} MetricName="${metric}"', '${stat}', 60)`,
            id: 'e1',
          },
        ],
      ],
      ...(target === undefined ? {} : { annotations: { horizontal: [{ label: 'target', value: target }] } }),
    },
  };
}

/** CloudWatch dashboard body: the in-process slo_* gauges against their targets. */
export function cloudwatchDashboard(slos: readonly SloDefinition[] = SLOS): Record<string, unknown> {
  const lines = slos.map((s) => `| ${s.id} | ${s.displayName} | ${s.service} |`).join('\n');
  const widgets = [
    {
      type: 'text',
      x: 0,
      y: 0,
      width: 24,
      height: 5,
      properties: {
        markdown:
          `# Regatta SLOs\nGauges published by each service's SLO monitor (rolling 10 minutes; cost per MAU ` +
          `per calendar month).\n\n| SLO | Objective | Service |\n|---|---|---|\n${lines}`,
      },
    },
    metricWidget('API latency p50 (s)', 'slo_api_latency_p50_seconds', 'Maximum', 0.025, { x: 0, y: 5 }),
    metricWidget('API latency p95 (s)', 'slo_api_latency_p95_seconds', 'Maximum', 0.08, { x: 12, y: 5 }),
    metricWidget('Inference latency p95 (s)', 'slo_inference_latency_p95_seconds', 'Maximum', 0.05, {
      x: 0,
      y: 11,
    }),
    metricWidget('API success ratio', 'slo_success_ratio', 'Minimum', 0.999, { x: 12, y: 11 }),
    metricWidget('Cache hit ratio', 'slo_cache_hit_ratio', 'Minimum', 0.3, { x: 0, y: 17 }),
    metricWidget('Cost per decision (USD)', 'slo_cost_per_decision_usd', 'Maximum', 0.01, { x: 12, y: 17 }),
    metricWidget('LLM cost per MAU (USD)', 'slo_llm_cost_per_mau_usd', 'Maximum', 0.05, { x: 0, y: 23 }),
    metricWidget(
      'Error budget remaining by SLO',
      'slo_error_budget_remaining_ratio',
      'Minimum',
      0,
      { x: 12, y: 23 },
      'slo',
    ),
  ];
  return { start: '-PT6H', periodOverride: 'inherit', widgets };
}

const APP_SERVICES = SCRAPE_TARGETS.map((t) => t.job);

/**
 * docker compose overlay (`docker compose -f docker-compose.yml -f docker-compose.monitoring.yml up`):
 * paths are relative to the repository root, where the file is meant to live.
 */
export function composeOverlay(): Record<string, unknown> {
  const dir = './infrastructure/monitoring';
  const telemetryEnv = {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
    PYROSCOPE_SERVER_ADDRESS: 'http://pyroscope:4040',
  };
  return {
    services: {
      prometheus: {
        image: IMAGES.prometheus,
        command: [
          '--config.file=/etc/prometheus/prometheus.yml',
          // A little more than the 30-day SLO window, so slo:sli_error:ratio_rate30d has full data.
          '--storage.tsdb.retention.time=35d',
          '--web.enable-lifecycle',
        ],
        volumes: [`${dir}/prometheus:/etc/prometheus:ro`, 'prometheus-data:/prometheus'],
        ports: ['9090:9090'],
        depends_on: ['alertmanager'],
      },
      alertmanager: {
        image: IMAGES.alertmanager,
        command: ['--config.file=/etc/alertmanager/alertmanager.yml'],
        volumes: [`${dir}/alertmanager:/etc/alertmanager:ro`],
        ports: ['9093:9093'],
      },
      grafana: {
        image: IMAGES.grafana,
        environment: {
          GF_AUTH_ANONYMOUS_ENABLED: 'true',
          GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
          GF_SECURITY_ADMIN_PASSWORD: '${GRAFANA_ADMIN_PASSWORD:-admin}',
        },
        volumes: [
          `${dir}/grafana/datasources:/etc/grafana/provisioning/datasources:ro`,
          `${dir}/grafana/providers:/etc/grafana/provisioning/dashboards:ro`,
          `${dir}/grafana/dashboards:/var/lib/grafana/dashboards:ro`,
          'grafana-data:/var/lib/grafana',
        ],
        ports: ['3000:3000'],
        depends_on: ['prometheus', 'jaeger', 'pyroscope', 'alertmanager'],
      },
      pyroscope: { image: IMAGES.pyroscope, ports: ['4040:4040'] },
      jaeger: {
        image: IMAGES.jaeger,
        environment: { COLLECTOR_OTLP_ENABLED: 'true' },
        // 16686 UI, 4317 OTLP/gRPC, 4318 OTLP/HTTP (what the services use).
        ports: ['16686:16686', '4317:4317', '4318:4318'],
      },
      ...Object.fromEntries(
        APP_SERVICES.map((name) => [
          name,
          { environment: telemetryEnv, depends_on: ['jaeger', 'pyroscope'] },
        ]),
      ),
    },
    volumes: { 'prometheus-data': {}, 'grafana-data': {} },
  };
}
