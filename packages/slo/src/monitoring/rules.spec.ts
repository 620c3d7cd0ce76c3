import { describe, expect, it } from '@jest/globals';
import { SLOS, getSlo, ratioSlos } from '../definitions.js';
import { alertmanagerConfig } from './configs.js';
import {
  BURN_WINDOWS,
  ruleFiles,
  sloAlerts,
  sloRuleFile,
  usesBurnRate,
  type AlertingRule,
  type RecordingRule,
} from './rules.js';

const records = (id: Parameters<typeof getSlo>[0]) =>
  sloRuleFile(getSlo(id)).groups.flatMap((g) => g.rules.filter((r): r is RecordingRule => 'record' in r));

describe(sloRuleFile.name, () => {
  it('names groups and recordings as Sloth does, for every ratio SLO', () => {
    for (const slo of ratioSlos()) {
      const file = sloRuleFile(slo);
      expect(file.groups.map((g) => g.name)).toEqual([
        `sloth-slo-sli-recordings-${slo.id}`,
        `sloth-slo-meta-recordings-${slo.id}`,
        `sloth-slo-alerts-${slo.id}`,
      ]);
      const names = records(slo.id).map((r) => r.record);
      for (const w of ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'])
        expect(names).toContain(`slo:sli_error:ratio_rate${w}`);
      for (const n of [
        'slo:objective:ratio',
        'slo:error_budget:ratio',
        'slo:current_burn_rate:ratio',
        'slo:period_error_budget_remaining:ratio',
        'sloth_slo_info',
      ]) {
        expect(names).toContain(n);
      }
      for (const r of records(slo.id))
        expect(r.labels).toMatchObject({ sloth_id: slo.id, sloth_service: slo.service });
    }
  });

  it('measures latency as the share of requests above the threshold bucket', () => {
    const rate5m = records('api-latency-p95').find((r) => r.record === 'slo:sli_error:ratio_rate5m')!;
    expect(rate5m.expr).toContain('api_request_duration_seconds_bucket{le="0.08"}[5m]');
    expect(rate5m.expr).toContain('sum(rate(api_request_duration_seconds_count[5m]))');
  });
});

describe(sloAlerts.name, () => {
  it('gives burn-rate alerts to SLOs that can burn at 14.4x and threshold alerts to the others', () => {
    expect(
      ratioSlos()
        .filter(usesBurnRate)
        .map((s) => s.id),
    ).toEqual(['api-latency-p95', 'inference-latency-p95', 'api-availability']);
    expect(sloAlerts(getSlo('api-latency-p50')).page).toBeUndefined();
    expect(sloAlerts(getSlo('api-latency-p50')).threshold?.alert).toBe('ApiLatencyP50SloBreached');
    expect(sloAlerts(getSlo('cache-hit-rate')).threshold?.alert).toBe('CacheHitRateSloBreached');
  });

  it('pages on the 14.4x (1h/5m) and 6x (6h/30m) pairs and tickets on 3x (1d/2h) and 1x (3d/6h)', () => {
    const { page, ticket } = sloAlerts(getSlo('api-availability'));
    expect(page!.labels.severity).toBe('page');
    expect(ticket!.labels.severity).toBe('ticket');
    expect(page!.expr).toContain('ratio_rate5m{sloth_id="api-availability"} > (14.4 * 0.001)');
    expect(page!.expr).toContain('ratio_rate1h{sloth_id="api-availability"} > (14.4 * 0.001)');
    expect(page!.expr).toContain('ratio_rate30m{sloth_id="api-availability"} > (6 * 0.001)');
    expect(ticket!.expr).toContain('ratio_rate1d{sloth_id="api-availability"} > (3 * 0.001)');
    expect(ticket!.expr).toContain('ratio_rate3d{sloth_id="api-availability"} > (1 * 0.001)');
    expect(BURN_WINDOWS).toHaveLength(4);
  });

  it('guards every SLO alert against low traffic and links a runbook anchor', () => {
    for (const slo of SLOS) {
      const { page, ticket, threshold, absent } = sloAlerts(slo);
      for (const alert of [page, ticket, threshold].filter((a): a is AlertingRule => a !== undefined)) {
        expect(alert.expr).toMatch(
          /regatta:slo_events:rate1h|regatta:slo_decisions:rate1h|regatta:slo_monthly_active_users:sum/,
        );
        expect(alert.annotations.runbook_url).toBe(`docs/operations.md#${slo.runbookAnchor}`);
      }
      expect(absent.expr).toContain('absent_over_time(');
      expect(absent.labels.sloth_id).toBe(slo.id);
    }
  });
});

describe(ruleFiles.name, () => {
  it('writes one file per SLO plus the scrape-target alerts', () => {
    expect(ruleFiles().map((f) => f.file)).toEqual([
      ...SLOS.map((s) => `slo-${s.id}.yml`),
      'regatta-targets.yml',
    ]);
  });
});

describe(alertmanagerConfig.name, () => {
  it('routes by the severity label and silences tickets while the same SLO pages', () => {
    const config = alertmanagerConfig() as {
      route: { routes: Array<{ receiver: string; matchers: string[] }> };
      inhibit_rules: unknown[];
    };
    expect(config.route.routes.map((r) => [r.receiver, r.matchers])).toEqual([
      ['page', ['severity="page"']],
      ['ticket', ['severity="ticket"']],
    ]);
    expect(config.inhibit_rules).toEqual([
      { source_matchers: ['severity="page"'], target_matchers: ['severity="ticket"'], equal: ['sloth_id'] },
    ]);
  });
});
