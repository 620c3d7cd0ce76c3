import { describe, expect, it } from '@jest/globals';
import { getRegistry } from '@regatta/telemetry';
import { InferenceMetrics } from './inference-metrics.js';

async function pendingOf(model: string, version: string): Promise<number | undefined> {
  const metric = await getRegistry().getSingleMetric('inference_pending_requests')!.get();
  return metric.values.find((v) => v.labels.model === model && v.labels.version === version)?.value;
}

describe(InferenceMetrics.name, () => {
  it('reports each model version queue depth as it is when scraped', async () => {
    const metrics = new InferenceMetrics();
    const a = metrics.forModel('pending-a', '1');
    const b = metrics.forModel('pending-b', '2');
    a.pending(3);
    b.pending(1);
    a.pending(7);
    expect(await pendingOf('pending-a', '1')).toBe(7);
    expect(await pendingOf('pending-b', '2')).toBe(1);
    a.pending(0);
    expect(await pendingOf('pending-a', '1')).toBe(0);
  });
});
