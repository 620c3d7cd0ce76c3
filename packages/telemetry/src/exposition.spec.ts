import { afterEach, describe, expect, it } from '@jest/globals';
import { renderMetrics } from './exposition.js';
import { counter, histogram, resetRegistry } from './metrics.js';

describe(renderMetrics.name, () => {
  afterEach(() => resetRegistry());

  it('serves the Prometheus text format by default', async () => {
    counter({ name: 'widgets_made_total', help: 'w' }).inc(3);
    const { contentType, body } = await renderMetrics(undefined);
    expect(contentType).toContain('text/plain');
    expect(body).toContain('# TYPE widgets_made_total counter\nwidgets_made_total 3');
    expect(body).not.toContain('# EOF');
  });

  it('serves OpenMetrics with exemplars and the same counter series when asked', async () => {
    counter({ name: 'widgets_made_total', help: 'w' }).inc(3);
    const h = histogram({ name: 'widget_seconds', help: 'h', labelNames: ['kind'], enableExemplars: true });
    h.observe({ labels: { kind: 'a' }, value: 0.004, exemplarLabels: { trace_id: 'abc123' } as never });
    const { contentType, body } = await renderMetrics(
      'application/openmetrics-text; version=1.0.0,text/plain;q=0.5',
    );
    expect(contentType).toContain('application/openmetrics-text');
    expect(body).toContain('# TYPE widgets_made counter\nwidgets_made_total 3');
    expect(body).not.toContain('widgets_made_total_total');
    expect(body).toMatch(/widget_seconds_bucket\{le="0.005",kind="a"\} 1 # \{trace_id="abc123"\} 0.004/);
    expect(body.trimEnd().endsWith('# EOF')).toBe(true);
  });

  it('names counters the same in the text format after an OpenMetrics scrape', async () => {
    counter({ name: 'widgets_made_total', help: 'w' }).inc(3);
    const first = (await renderMetrics(undefined)).body;
    await renderMetrics('application/openmetrics-text');
    const again = (await renderMetrics(undefined)).body;
    expect(first).toContain('widgets_made_total 3');
    expect(again).toContain('# TYPE widgets_made_total counter\nwidgets_made_total 3');
    const open = (await renderMetrics('application/openmetrics-text')).body;
    expect(open).toContain('# TYPE widgets_made counter\nwidgets_made_total 3');
  });
});
