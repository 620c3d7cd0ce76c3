import { afterEach, describe, expect, it } from '@jest/globals';
import { Counter } from 'prom-client';
import { renderMetrics } from './exposition.js';
import { FastCounter } from './fast-counter.js';
import { fastCounter, resetRegistry } from './metrics.js';
import { rendered } from './testing/rendered.js';

describe(FastCounter.name, () => {
  afterEach(() => resetRegistry());

  it("renders the same lines as prom-client's counter for the same increments", async () => {
    const config = { name: 'calls_total', help: 'calls', labelNames: ['op', 'outcome'] as const };
    const fast = new FastCounter(config);
    const reference = new Counter({ ...config, labelNames: [...config.labelNames], registers: [] });
    const kept = fast.labels({ op: 'get', outcome: 'ok' });
    kept.inc();
    kept.inc(2.5);
    fast.inc({ op: 'put', outcome: 'error' });
    reference.inc({ op: 'get', outcome: 'ok' }, 3.5);
    reference.inc({ op: 'put', outcome: 'error' });
    const text = await rendered(fast);
    expect(text).toBe(await rendered(reference));
    expect(text).toContain('calls_total{op="get",outcome="ok"} 3.5');
  });

  it('ignores decrements and non-finite increments, and refuses unknown labels', async () => {
    const c = new FastCounter({ name: 'n_total', help: 'n', labelNames: ['op'] });
    c.inc({ op: 'a' }, -1);
    c.inc({ op: 'a' }, Number.NaN);
    c.inc({ op: 'a' }, 4);
    expect(await rendered(c)).toContain('n_total{op="a"} 4');
    expect(() => c.inc({ model: 'x' } as never)).toThrow("counter n_total has no label 'model'");
  });

  it('is one family in OpenMetrics, as prom-client counters are', async () => {
    const c = fastCounter({ name: 'served_total', help: 's', labelNames: ['op'] });
    expect(fastCounter({ name: 'served_total', help: 's', labelNames: ['op'] })).toBe(c);
    c.inc({ op: 'a' }, 2);
    const open = (await renderMetrics('application/openmetrics-text')).body;
    expect(open).toContain('# TYPE served counter\nserved_total{op="a"} 2');
    expect(open).not.toContain('served_total_total');
    expect((await renderMetrics(undefined)).body).toContain('served_total{op="a"} 2');
  });
});
