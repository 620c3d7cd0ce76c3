import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fleetUrls } from './testing/urls.js';
import { DistributedFleet, freePort } from './distributed.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const ADMIN_KEY = 'rg_monitoring_test_admin_key_0123456789';

interface PromVector {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe('monitoring of the running fleet', () => {
  let fleet: DistributedFleet;
  let prometheus: ChildProcess | undefined;
  let promUrl = '';
  const dir = mkdtempSync(path.join(tmpdir(), 'regatta-prom-'));

  beforeAll(async () => {
    fleet = await DistributedFleet.start({
      ...fleetUrls(),
      env: { LOG_LEVEL: 'warn', REGATTA_ADMIN_KEY: ADMIN_KEY },
    });
  }, 120_000);
  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const targets = () =>
    fleet.processes.map((p) => ({
      service: p.service,
      url:
        p.service === 'gateway' ? `${fleet.gatewayUrl}/metrics` : `http://127.0.0.1:${p.adminPort}/metrics`,
      address: `127.0.0.1:${p.service === 'gateway' ? new URL(fleet.gatewayUrl).port : p.adminPort}`,
    }));

  it('exposes metrics that promtool accepts on every service', async () => {
    for (const target of targets()) {
      const text = await (await fetch(target.url)).text();
      const check = spawnSync('promtool', ['check', 'metrics'], {
        input: text,
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect({
        service: target.service,
        status: check.status,
        out: `${check.stdout}${check.stderr}`,
      }).toEqual({
        service: target.service,
        status: 0,
        out: '',
      });
    }
  });

  it('feeds the generated SLO recording rules in a real Prometheus', async () => {
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [path.join(root, 'infrastructure/monitoring/prometheus/rules/*.yml')],
      scrape_configs: targets().map((t, i) => ({
        job_name: `${t.service}-${i}`,
        static_configs: [{ targets: [t.address], labels: { service: t.service } }],
      })),
    };
    writeFileSync(path.join(dir, 'prometheus.yml'), JSON.stringify(config));
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );

    const query = async (q: string): Promise<PromVector['data']['result']> => {
      const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
      return ((await res.json()) as PromVector).data.result;
    };
    // A little traffic while Prometheus scrapes (successes and 404s), until every rule has a value.
    const wanted = {
      availability: 'slo:sli_error:ratio_rate5m{sloth_id="api-availability"}',
      latency: 'slo:sli_error:ratio_rate5m{sloth_id="api-latency-p95"}',
      objective: 'slo:objective:ratio',
      up: 'up',
    };
    type Results = Record<keyof typeof wanted, PromVector['data']['result']>;
    let results: Partial<Results> = {};
    const complete = (r: Partial<Results>): r is Results =>
      Object.keys(wanted).every((k) => (r[k as keyof Results]?.length ?? 0) > 0) &&
      r.up!.length === fleet.processes.length;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !complete(results)) {
      await Promise.all([
        fetch(`${fleet.gatewayUrl}/health`),
        fetch(`${fleet.gatewayUrl}/v1/fleet/features`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }),
        fetch(`${fleet.gatewayUrl}/no-such-route`),
      ]).catch(() => undefined);
      try {
        const entries = await Promise.all(
          Object.entries(wanted).map(async ([k, q]) => [k, await query(q)] as const),
        );
        results = Object.fromEntries(entries);
      } catch {
        // Prometheus is still starting
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(complete(results)).toBe(true);
    const r = results as Results;
    expect(Number(r.availability[0]!.value[1])).toBe(0); // 404s are not errors; no 5xx was served
    const latencyErrors = Number(r.latency[0]!.value[1]);
    expect(latencyErrors).toBeGreaterThanOrEqual(0);
    expect(latencyErrors).toBeLessThanOrEqual(1);
    expect(r.up.map((x) => [x.metric.service, x.value[1]]).sort()).toEqual(
      fleet.processes.map((p) => [p.service, '1']).sort(),
    );
  }, 90_000);
});
