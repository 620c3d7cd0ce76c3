import { afterEach, describe, expect, it } from '@jest/globals';
import { Histogram } from 'prom-client';
import { renderMetrics } from './exposition.js';
import { FastHistogram } from './fast-histogram.js';
import { fastHistogram, resetRegistry } from './metrics.js';
import { rendered } from './testing/rendered.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];

describe(FastHistogram.name, () => {
  afterEach(() => resetRegistry());

  it("renders the same lines as prom-client's histogram for the same observations", async () => {
    const config = {
      name: 'op_seconds',
      help: 'op',
      labelNames: ['op', 'outcome'] as const,
      buckets: BUCKETS,
    };
    const fast = new FastHistogram(config);
    const reference = new Histogram({ ...config, labelNames: [...config.labelNames], registers: [] });
    const observations: [Record<'op' | 'outcome', string>, number][] = [
      [{ op: 'get', outcome: 'ok' }, 0.0005],
      [{ op: 'get', outcome: 'ok' }, 0.001], // on a bound: counted in that bucket
      [{ op: 'get', outcome: 'ok' }, 0.05],
      [{ op: 'put', outcome: 'error' }, 3], // above every bound: +Inf only
      [{ op: 'get', outcome: 'ok' }, 0.2],
    ];
    const kept = fast.labels({ op: 'get', outcome: 'ok' });
    for (const [labels, value] of observations) {
      if (labels.op === 'get') kept.observe(value);
      else fast.observe(labels, value);
      reference.observe(labels, value);
    }
    const text = await rendered(fast);
    expect(text).toBe(await rendered(reference));
    expect(text).toContain('op_seconds_bucket{le="0.001",op="get",outcome="ok"} 2');
    expect(text).toContain('op_seconds_bucket{le="+Inf",op="put",outcome="error"} 1');
    expect(text).toContain('op_seconds_count{op="get",outcome="ok"} 4');
  });

  it('refuses a label it was not given and buckets out of order', () => {
    const h = new FastHistogram({ name: 'x_seconds', help: 'x', labelNames: ['op'], buckets: BUCKETS });
    expect(() => h.labels({ op: 'a', model: 'm' } as never)).toThrow(
      "histogram x_seconds has no label 'model'",
    );
    expect(() => new FastHistogram({ name: 'y', help: 'y', buckets: [0.1, 0.01] })).toThrow(
      'buckets must be finite and ascending',
    );
  });

  it('drops values that are not finite numbers instead of corrupting the sum', async () => {
    const h = new FastHistogram({ name: 'z_seconds', help: 'z', buckets: BUCKETS });
    h.observe({}, Number.NaN);
    h.observe({}, Number.POSITIVE_INFINITY);
    h.observe({}, 0.5);
    const text = await rendered(h);
    expect(text).toContain('z_seconds_sum 0.5');
    expect(text).toContain('z_seconds_count 1');
  });

  it('times a span with startTimer and forgets everything on reset', async () => {
    const h = new FastHistogram({ name: 't_seconds', help: 't', labelNames: ['op'], buckets: BUCKETS });
    const stop = h.startTimer({ op: 'wait' });
    await new Promise((r) => setTimeout(r, 15));
    const seconds = stop();
    expect(seconds).toBeGreaterThanOrEqual(0.01);
    expect(await rendered(h)).toContain('t_seconds_count{op="wait"} 1');
    h.reset();
    expect(await rendered(h)).not.toContain('t_seconds_count');
  });

  it('is served by the process registry in both exposition formats, once per name', async () => {
    const h = fastHistogram({ name: 'served_seconds', help: 's', labelNames: ['op'] });
    expect(fastHistogram({ name: 'served_seconds', help: 's', labelNames: ['op'] })).toBe(h);
    h.observe({ op: 'a' }, 0.004);
    const text = (await renderMetrics(undefined)).body;
    expect(text).toContain('# TYPE served_seconds histogram');
    expect(text).toContain('served_seconds_bucket{le="0.005",op="a"} 1');
    const open = (await renderMetrics('application/openmetrics-text')).body;
    expect(open).toContain('served_seconds_bucket{le="0.005",op="a"} 1');
    expect(open.trimEnd().endsWith('# EOF')).toBe(true);
  });
});
