import { readdirSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { isMap, parseYaml, readRepoFile, repoPath, type YamlMap } from './repo.js';

const doc = readRepoFile('docs/operations.md');

function section(title: string): string {
  const start = doc.indexOf(`## ${title}\n`);
  if (start < 0) throw new Error(`docs/operations.md has no "## ${title}" section`);
  const end = doc.indexOf('\n## ', start + 3);
  return doc.slice(start, end < 0 ? undefined : end);
}

function alertRules(): Map<string, string> {
  const dir = 'infrastructure/monitoring/prometheus/rules';
  const alerts = new Map<string, string>();
  for (const file of readdirSync(repoPath(dir)).filter((f) => f.endsWith('.yml'))) {
    const groups = parseYaml(readRepoFile(`${dir}/${file}`), file).groups as YamlMap[];
    for (const rule of groups.flatMap((g) => g.rules as YamlMap[])) {
      if (typeof rule.alert === 'string') {
        alerts.set(rule.alert, isMap(rule.labels) ? String(rule.labels.severity) : '');
      }
    }
  }
  return alerts;
}

describe('docs/operations.md', () => {
  it('names only alerts that exist, with the severity they are routed by', () => {
    const rules = alertRules();
    const rows = section('Alerts')
      .split('\n')
      .filter((l) => l.startsWith('| `'));
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const [names = '', severity = ''] = row.split('|').slice(1, 3);
      for (const [, name] of names.matchAll(/`([A-Za-z0-9]+)`/g)) {
        expect([name, rules.get(name!)]).toEqual([name, severity.trim()]);
      }
    }
  });

  it('explains every alert that pages', () => {
    const documented = section('Alerts');
    const paging = [...alertRules()].filter(([, severity]) => severity === 'page').map(([name]) => name);
    expect(paging.length).toBeGreaterThan(0);
    for (const name of paging) expect([name, documented.includes(`\`${name}\``)]).toEqual([name, true]);
  });

  it('describes every service docker-compose.yml runs', () => {
    const compose = parseYaml(readRepoFile('docker-compose.yml'), 'docker-compose.yml');
    const table = section('What runs');
    for (const name of Object.keys(compose.services as YamlMap)) expect(table).toContain(`| \`${name}\``);
  });

  it('covers one box, scaling, the NATS cluster, Redis replicas and Postgres with PgBouncer', () => {
    for (const title of [
      'One box: docker compose',
      'Scaling one service at a time',
      'Growing the shared servers',
      'What to watch',
    ]) {
      expect(section(title).length).toBeGreaterThan(200);
    }
    for (const title of [
      'NATS: one node to a cluster',
      'Redis: a primary, then replicas',
      'Postgres with PgBouncer',
    ]) {
      expect(doc).toContain(`### ${title}`);
    }
  });
});
