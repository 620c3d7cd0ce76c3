import { trace, type Span } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { getRegistry } from './metrics.js';

/** The exemplar of an observation made inside a sampled span: its trace id. */
export function exemplarLabels(span: Span | undefined = trace.getActiveSpan()): Record<string, string> {
  const ctx = span?.spanContext();
  return ctx && ctx.traceFlags & 1 ? { trace_id: ctx.traceId } : {};
}

const OPENMETRICS = /application\/openmetrics-text/i;

/** What a registry reads of a metric. */
interface RenderableMetric {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  get(): unknown;
  getForPromString?(): unknown;
}

function standIn(metric: RenderableMetric): RenderableMetric {
  const copy: RenderableMetric = {
    name: metric.name,
    help: metric.help,
    type: metric.type,
    get: () => metric.get(),
  };
  if (metric.aggregator) copy.aggregator = metric.aggregator;
  if (typeof metric.getForPromString === 'function') copy.getForPromString = () => metric.getForPromString!();
  return copy;
}

/**
 * Exposition of the process registry in the format the scraper asks for: OpenMetrics (with
 * exemplars, so a latency bucket links to a trace) when `Accept` names it, as Prometheus does;
 * else the Prometheus text format.
 */
export async function renderMetrics(
  accept: string | undefined,
): Promise<{ contentType: string; body: string }> {
  const registry = getRegistry();
  if (accept && OPENMETRICS.test(accept)) {
    // prom-client renames every counter it renders as OpenMetrics (`x_total` becomes `x`, for good), after
    // which the text format would name its samples `x`. Each metric is rendered through a stand-in whose
    // name may be changed; the metric itself keeps its name.
    const open = new Registry();
    open.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
    const counters: string[] = [];
    for (const metric of registry.getMetricsAsArray() as unknown as RenderableMetric[]) {
      if (metric.type === 'counter') counters.push(metric.name);
      open.registerMetric(standIn(metric) as never);
    }
    return { contentType: open.contentType, body: fixCounterFamilies(await open.metrics(), counters) };
  }
  // The same metrics, written in the Prometheus text format (exemplars left out).
  const text = new Registry();
  for (const metric of registry.getMetricsAsArray())
    text.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  return { contentType: text.contentType, body: await text.metrics() };
}

/**
 * prom-client writes a counter named `x_total` in OpenMetrics as family `x_total` with samples
 * `x_total_total`, which a scraper would store as a new series name. OpenMetrics wants family `x`
 * and samples `x_total`: rename so both formats yield the same series.
 */
export function fixCounterFamilies(text: string, counters: readonly string[]): string {
  const rename = new Map<string, string>();
  for (const name of counters) if (name.endsWith('_total')) rename.set(name, name.slice(0, -'_total'.length));
  if (rename.size === 0) return text;
  return text
    .split('\n')
    .map((line) => {
      const meta = /^# (HELP|TYPE|UNIT) (\S+)( .*)?$/.exec(line);
      if (meta) {
        const base = rename.get(meta[2]!);
        return base ? `# ${meta[1]} ${base}${meta[3] ?? ''}` : line;
      }
      const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)_total([{ ].*)$/.exec(line);
      if (sample && rename.has(sample[1]!)) return `${sample[1]}${sample[2]}`;
      return line;
    })
    .join('\n');
}
