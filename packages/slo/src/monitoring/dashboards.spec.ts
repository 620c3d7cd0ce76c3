import { describe, expect, it } from '@jest/globals';
import { dashboardQueries, dashboards } from './dashboards.js';

describe(dashboards.name, () => {
  const boards = dashboards();

  it('builds the RED, SLO, inference, features, LLM and NATS dashboards with unique uids', () => {
    expect(Object.keys(boards).sort()).toEqual([
      'regatta-features.json',
      'regatta-inference.json',
      'regatta-llm.json',
      'regatta-nats.json',
      'regatta-red.json',
      'regatta-slo.json',
    ]);
    const uids = Object.values(boards).map((b) => b.uid);
    expect(new Set(uids).size).toBe(uids.length);
  });

  it('computes the mean batch size as rows over executions', () => {
    const queries = dashboardQueries(boards['regatta-inference.json']!);
    expect(queries).toContain(
      'sum (rate(inference_rows_total[$__rate_interval]))\n/\nsum (rate(inference_executions_total[$__rate_interval]))',
    );
    expect(queries.some((q) => q.includes('inference_queue_wait_seconds_bucket'))).toBe(true);
    expect(queries.some((q) => q.includes('inference_compute_seconds_bucket'))).toBe(true);
  });

  it('shows every SLO with its budget on the SLO dashboard', () => {
    const queries = dashboardQueries(boards['regatta-slo.json']!).join('\n');
    for (const id of [
      'api-latency-p50',
      'api-latency-p95',
      'inference-latency-p95',
      'api-availability',
      'cache-hit-rate',
    ]) {
      expect(queries).toContain(`slo:period_error_budget_remaining:ratio{sloth_id="${id}"}`);
    }
    expect(queries).toContain('regatta:slo_llm_cost_per_mau:usd{sloth_id="llm-cost-per-mau"}');
    expect(queries).toContain('regatta:slo_cost_per_decision:usd_rate1h{sloth_id="cost-per-decision"}');
  });

  it('points every panel at the provisioned Prometheus datasource', () => {
    for (const board of Object.values(boards)) {
      for (const panel of board.panels ?? []) {
        if (panel.type === 'row') continue;
        expect(panel).toMatchObject({ datasource: { uid: 'prometheus' } });
      }
    }
  });
});

describe('dashboard panel ids', () => {
  it('are unique within each dashboard', () => {
    for (const board of Object.values(dashboards())) {
      const ids = (board.panels ?? []).map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.every((id) => typeof id === 'number' && id > 0)).toBe(true);
    }
  });
});
