import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { checkEnvironment, resolveContainerEnvironment } from './environment.js';
import { iniInt, parseConfSettings, parseIni, renderIni, withIniOverrides } from './ini.js';
import { buildKustomization, containersOf, findWorkload, type K8sObject } from './kustomize.js';
import { isMap, readRepoFile, repoPath } from './repo.js';
import { APPS, extraVariables } from './testing/apps.js';

const ini = parseIni(readRepoFile('infrastructure/pgbouncer/pgbouncer.ini'), 'pgbouncer.ini');
const postgres = parseConfSettings(readRepoFile('infrastructure/postgres/postgresql.conf'));
const prod = buildKustomization(repoPath('infrastructure/k8s/overlays/prod'), {
  readFile: (file) => readFileSync(existsSync(file) ? file : `${file}.example`, 'utf8'),
});
const find = (kind: string, name: string): K8sObject => {
  const found = prod.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} missing`);
  return found;
};
const specNumber = (obj: K8sObject, field: string): number => Number(isMap(obj.spec) ? obj.spec[field] : NaN);

describe('pgbouncer.ini', () => {
  it('pools by transaction, authenticates with SCRAM and bounds the wait for a connection', () => {
    const settings = ini.get('pgbouncer');
    expect(settings?.get('pool_mode')).toBe('transaction');
    expect(settings?.get('auth_type')).toBe('scram-sha-256');
    expect(iniInt(ini, 'pgbouncer', 'query_wait_timeout')).toBeGreaterThan(0);
    expect(iniInt(ini, 'pgbouncer', 'query_wait_timeout')).toBeLessThanOrEqual(10);
    expect(iniInt(ini, 'pgbouncer', 'default_pool_size')).toBeLessThanOrEqual(
      iniInt(ini, 'pgbouncer', 'max_db_connections'),
    );
  });

  it('admits every app connection at the production autoscaling maximum', () => {
    let clients = 0;
    for (const app of APPS.filter((a) => a.usesDatabase)) {
      const maxReplicas = specNumber(find('HorizontalPodAutoscaler', app.name), 'maxReplicas');
      const workload = findWorkload(prod, app.name);
      if (!workload) throw new Error(`no Deployment or StatefulSet named ${app.name}`);
      const container = containersOf([workload])[0]!;
      const { env } = resolveContainerEnvironment(container, prod);
      const check = checkEnvironment(app.spec, env, extraVariables(app.name));
      if (!check.ok) throw new Error(check.problems.join('\n'));
      const pool = Number((check.config as Record<string, unknown>).DATABASE_POOL_MAX);
      clients += maxReplicas * pool;
    }
    expect(clients).toBeGreaterThan(0);
    expect(clients).toBeLessThanOrEqual(iniInt(ini, 'pgbouncer', 'max_client_conn'));
  });

  it("keeps every PgBouncer replica's server connections within Postgres' max_connections", () => {
    const replicas = specNumber(find('Deployment', 'pgbouncer'), 'replicas');
    const perBouncer =
      iniInt(ini, 'pgbouncer', 'max_db_connections') + iniInt(ini, 'pgbouncer', 'reserve_pool_size');
    const available =
      Number(postgres.get('max_connections')) - Number(postgres.get('superuser_reserved_connections'));
    expect(replicas).toBeGreaterThanOrEqual(2);
    expect(replicas * perBouncer).toBeLessThanOrEqual(available);
  });
});

describe(parseIni.name, () => {
  it('reads sections, empty values and comments, and round-trips through renderIni', () => {
    const parsed = parseIni(
      '; note\n[databases]\ndb = host=x port=1\n[pgbouncer]\nunix_socket_dir =\n# more\n',
    );
    expect(parsed.get('databases')?.get('db')).toBe('host=x port=1');
    expect(parsed.get('pgbouncer')?.get('unix_socket_dir')).toBe('');
    expect(parseIni(renderIni(withIniOverrides(parsed, { pgbouncer: { listen_port: '7' } })))).toEqual(
      new Map([
        ['databases', new Map([['db', 'host=x port=1']])],
        [
          'pgbouncer',
          new Map([
            ['unix_socket_dir', ''],
            ['listen_port', '7'],
          ]),
        ],
      ]),
    );
  });

  it('names the line of a setting outside any section', () => {
    expect(() => parseIni('pool_mode = session', 'x.ini')).toThrow(
      'x.ini:1: expected "key = value" inside a [section]',
    );
    expect(() => iniInt(parseIni('[p]\na = b'), 'p', 'a')).toThrow('[p] a must be an integer, got b');
  });
});

describe(parseConfSettings.name, () => {
  it('reads postgresql.conf settings, dropping quotes and trailing comments', () => {
    const settings = parseConfSettings("a = 1  # why\nb = 'x y'\n# c = 3\n");
    expect([...settings]).toEqual([
      ['a', '1'],
      ['b', 'x y'],
    ]);
  });
});
