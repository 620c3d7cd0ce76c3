import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderMetrics, resetRegistry } from '@regatta/telemetry';
import { stringify } from 'yaml';
import { registerSloMetrics } from '../exporter.js';
import { SloMonitor } from '../monitor.js';
import { dashboardQueries, dashboards } from './dashboards.js';
import { ensureDebianTool, run } from '../testing/debian-tools.js';
import { MONITORING_DIR, writeMonitoringFiles } from './files.js';

// The generated monitoring files checked with the real tools: promtool (config, rules, rule unit tests,
// metric lint) and amtool. Files are generated into a temporary tree, so the test checks the generator,
// not whatever happens to be committed (generate.int-spec.ts checks that the two agree).

let root: string;
let monitoring: string;

const yamlIn = async (dir: string) =>
  (await readdir(path.join(monitoring, dir)))
    .filter((f) => f.endsWith('.yml'))
    .map((f) => path.join(monitoring, dir, f));

function expectOk(result: { status: number | null; output: string }): void {
  if (result.status !== 0) throw new Error(`command failed (${result.status}):\n${result.output}`);
}

beforeAll(async () => {
  ensureDebianTool('promtool', 'prometheus');
  ensureDebianTool('amtool', 'prometheus-alertmanager');
  root = await mkdtemp(path.join(tmpdir(), 'regatta-slo-'));
  await writeMonitoringFiles(root);
  monitoring = path.join(root, MONITORING_DIR);
}, 600_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('generated Prometheus files', () => {
  it('pass promtool check config, rule files included', () => {
    const result = run('promtool', ['check', 'config', path.join(monitoring, 'prometheus/prometheus.yml')]);
    expectOk(result);
    expect(result.output).toMatch(/SUCCESS: 8 rule files found/);
  });

  it('pass promtool check rules', async () => {
    const files = await yamlIn('prometheus/rules');
    expect(files.length).toBe(8);
    expectOk(run('promtool', ['check', 'rules', ...files]));
  });

  it('pass every promtool rule unit test: alerts fire in outages and slow burns, stay quiet, clear', async () => {
    const files = await yamlIn('prometheus/tests');
    expect(files.length).toBe(8);
    const result = run('promtool', ['test', 'rules', ...files]);
    expectOk(result);
    expect(result.output.match(/SUCCESS/g)).toHaveLength(files.length);
  });

  it('fail the rule unit tests when a burn-rate threshold is wrong', async () => {
    const copy = path.join(root, 'mutated');
    await cp(path.join(monitoring, 'prometheus'), copy, { recursive: true });
    const rules = path.join(copy, 'rules/slo-api-availability.yml');
    // Paging at 16x instead of 6x would miss a 10x burn.
    await writeFile(rules, (await readFile(rules, 'utf8')).replaceAll('(6 * 0.001)', '(16 * 0.001)'));
    const result = run('promtool', ['test', 'rules', path.join(copy, 'tests/slo-api-availability.test.yml')]);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('a 10x burn pages through the 6h/30m windows');
  });
});

describe('generated dashboards', () => {
  async function checkQueries(queries: string[]) {
    const file = path.join(root, `dashboard-queries-${Date.now()}.yml`);
    // Each query becomes a recording rule so promtool parses it; Grafana's interval becomes a real one.
    const rules = queries.map((q, i) => ({
      record: `regatta:dashboard_query:q${i}`,
      expr: q.replaceAll('$__rate_interval', '5m'),
    }));
    await writeFile(file, stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
    return run('promtool', ['check', 'rules', file]);
  }

  it('contain only PromQL that promtool parses', async () => {
    const queries = Object.values(dashboards()).flatMap(dashboardQueries);
    expect(queries.length).toBeGreaterThan(60);
    const result = await checkQueries(queries);
    expectOk(result);
    expect(result.output).toContain(`SUCCESS: ${queries.length} rules found`);
  });

  it('are written as the JSON the builders produce', async () => {
    for (const [file, board] of Object.entries(dashboards())) {
      const written = JSON.parse(
        await readFile(path.join(monitoring, 'grafana/dashboards', file), 'utf8'),
      ) as unknown;
      expect(written).toEqual(JSON.parse(JSON.stringify(board)));
    }
  });

  it('would be caught with a query that does not parse', async () => {
    const result = await checkQueries(['sum(rate(api_requests_total[$__rate_interval])']);
    expect(result.status).not.toBe(0);
  });
});

describe('generated Alertmanager config', () => {
  it('passes amtool check-config', () => {
    expectOk(run('amtool', ['check-config', path.join(monitoring, 'alertmanager/alertmanager.yml')]));
  });

  it('routes pages and tickets to their receivers by severity', () => {
    const routing = (args: string[]) =>
      run('amtool', [
        'config',
        'routes',
        'test',
        `--config.file=${path.join(monitoring, 'alertmanager/alertmanager.yml')}`,
        ...args,
      ]);
    expect(routing(['severity=page', 'sloth_id=api-availability']).stdout.trim()).toBe('page');
    expect(routing(['severity=ticket', 'sloth_id=api-availability']).stdout.trim()).toBe('ticket');
  });
});

describe('slo_* gauges', () => {
  it('pass promtool check metrics', async () => {
    resetRegistry();
    const monitor = new SloMonitor();
    monitor.recordApi(12, true);
    monitor.recordInference(3);
    monitor.recordCache(true);
    monitor.recordLlmCost(0.01, 'acme', 'u1');
    monitor.recordDecision(0.2);
    registerSloMetrics(monitor);
    const { body: text } = await renderMetrics(undefined);
    expect(text).toContain('slo_error_budget_remaining_ratio{slo="api-availability"} 1');
    expectOk(run('promtool', ['check', 'metrics'], text));
  });
});
