import { Registry } from 'prom-client';

/** The text a registry holding only `metric` renders (Prometheus text format). */
export async function rendered(metric: object): Promise<string> {
  const registry = new Registry();
  registry.registerMetric(metric as never);
  return registry.metrics();
}
