import { describe, expect, it } from '@jest/globals';
import { describeEnv } from '@regatta/config';
import { checkGatewayConfig, type GatewayConfig } from '@regatta/gateway';
import { dependsOnOf, environmentOf, interpolate, interpolateDeep, mergeComposeFiles } from './compose.js';
import { checkEnvironment, requiredVariables } from './environment.js';
import { parseIni } from './ini.js';
import { isMap, parseYaml, readRepoFile, scalarText, type YamlMap } from './repo.js';
import { APPS, extraVariables } from './testing/apps.js';
import { composeSchemaProblems } from './testing/schemas.js';

// What an operator puts in .env before `docker compose up` (the file demands these two).
const OPERATOR_ENV = { REGATTA_ADMIN_KEY: 'k'.repeat(40), API_KEY_PEPPER: 'p'.repeat(32) };

const raw = (file: string) => parseYaml(readRepoFile(file), file);
const load = (file: string, variables: Record<string, string> = OPERATOR_ENV) =>
  interpolateDeep(raw(file), variables) as YamlMap;
const services = (file: YamlMap): Record<string, YamlMap> => file.services as Record<string, YamlMap>;

const compose = load('docker-compose.yml');
const appEnv = (name: string) => environmentOf(services(compose)[name] ?? {});

function healthcheckUrl(service: YamlMap): URL | undefined {
  const test = isMap(service.healthcheck) ? service.healthcheck.test : undefined;
  const text = Array.isArray(test) ? test.map(scalarText).join(' ') : scalarText(test);
  const match = /https?:\/\/[^'"\s)]+/.exec(text);
  return match ? new URL(match[0]) : undefined;
}

describe('docker-compose.yml', () => {
  it('matches the Compose specification schema', () => {
    expect(composeSchemaProblems(compose)).toEqual([]);
    const misspelt = { services: { gateway: { ...services(compose).gateway, helthcheck: {} } } };
    expect(composeSchemaProblems(misspelt).join('\n')).toMatch(/additional properties/);
  });

  it('refuses to start without the secrets an operator must set', () => {
    expect(() => load('docker-compose.yml', {})).toThrow(/REGATTA_ADMIN_KEY/);
    expect(() => load('docker-compose.yml', { REGATTA_ADMIN_KEY: 'k'.repeat(40) })).toThrow(/API_KEY_PEPPER/);
  });

  it('runs postgres, pgbouncer, redis, nats and the four apps', () => {
    expect(Object.keys(services(compose)).sort()).toEqual(
      ['features', 'gateway', 'inference', 'llm-proxy', 'nats', 'pgbouncer', 'postgres', 'redis'].sort(),
    );
  });

  it.each(APPS.map((a) => [a.name, a] as const))(
    "builds %s as its own target of the repository's Dockerfile, pruned to that app",
    (name) => {
      const build = services(compose)[name]?.build;
      expect(build).toEqual({ context: '.', target: name, args: { APP: name } });
      expect(readRepoFile('Dockerfile')).toMatch(new RegExp(`^FROM runtime AS ${name}$`, 'm'));
    },
  );

  it.each(APPS.map((a) => [a.name, a] as const))(
    'gives %s an environment its config spec accepts',
    (name, app) => {
      const env = appEnv(name);
      const check = checkEnvironment(app.spec, env, extraVariables(name));
      expect(check.ok ? [] : check.problems).toEqual([]);
      expect(check.unknown).toEqual([]);
      for (const variable of requiredVariables(describeEnv(app.spec))) expect(env).toHaveProperty(variable);
      if (name === 'gateway' && check.ok) {
        expect(() => checkGatewayConfig(check.config as GatewayConfig, 'distributed')).not.toThrow();
      }
    },
  );

  it.each(APPS.map((a) => [a.name, a] as const))(
    'healthchecks %s on /ready at the port it serves health on',
    (name, app) => {
      const service = services(compose)[name] ?? {};
      const check = checkEnvironment(app.spec, appEnv(name), extraVariables(name));
      if (!check.ok) throw new Error(check.problems.join('\n'));
      const url = healthcheckUrl(service);
      expect(url?.pathname).toBe('/ready');
      expect(Number(url?.port)).toBe((check.config as Record<string, unknown>)[app.healthPortVariable]);
    },
  );

  it('healthchecks every other service, so dependants wait for it', () => {
    for (const [name, service] of Object.entries(services(compose))) {
      expect([name, isMap(service.healthcheck) && service.healthcheck.test !== undefined]).toEqual([
        name,
        true,
      ]);
    }
    for (const [name, service] of Object.entries(services(compose))) {
      if (!isMap(service.depends_on)) continue;
      for (const [dependency, spec] of Object.entries(service.depends_on)) {
        expect([name, dependency, isMap(spec) ? spec.condition : spec]).toEqual([
          name,
          dependency,
          'service_healthy',
        ]);
      }
    }
  });

  it('lets only PgBouncer reach Postgres; the apps get a pgbouncer URL', () => {
    const postgresUsers = Object.entries(services(compose))
      .filter(([, service]) => dependsOnOf(service).includes('postgres'))
      .map(([name]) => name);
    expect(postgresUsers).toEqual(['pgbouncer']);
    expect(services(compose).postgres?.ports).toBeUndefined();
    for (const [name, service] of Object.entries(services(compose))) {
      for (const [variable, value] of Object.entries(environmentOf(service))) {
        if (!/^postgres(ql)?:\/\//.test(value)) continue;
        const url = new URL(value);
        expect([name, variable, url.hostname, url.port]).toEqual([name, variable, 'pgbouncer', '6432']);
      }
    }
    for (const app of APPS.filter((a) => a.usesDatabase))
      expect(dependsOnOf(services(compose)[app.name] ?? {})).toContain('pgbouncer');
    const ini = parseIni(readRepoFile('infrastructure/pgbouncer/pgbouncer.ini'));
    expect(ini.get('pgbouncer')?.get('listen_port')).toBe('6432');
    expect(ini.get('databases')?.get('regatta')).toMatch(/host=postgres port=5432/);
  });

  it('gives the apps credentials PgBouncer knows', () => {
    const userlist = readRepoFile('infrastructure/pgbouncer/userlist.txt');
    for (const app of APPS.filter((a) => a.usesDatabase)) {
      const url = new URL(appEnv(app.name).DATABASE_URL ?? 'postgres://missing@x/y');
      expect(userlist).toContain(
        `"${decodeURIComponent(url.username)}" "${decodeURIComponent(url.password)}"`,
      );
      expect(url.pathname).toBe('/regatta');
    }
    expect(environmentOf(services(compose).postgres ?? {})).toMatchObject({
      POSTGRES_USER: 'regatta',
      POSTGRES_DB: 'regatta',
    });
  });

  it('publishes only the public ports: the gateway API and the Feast HTTP API', () => {
    const published = Object.entries(services(compose))
      .filter(([, service]) => Array.isArray(service.ports))
      .map(([name, service]) => [name, service.ports]);
    expect(published).toEqual([
      ['gateway', ['8080:8080']],
      ['features', ['6566:6566']],
    ]);
  });

  it('gives a stopping app longer than its drain (SHUTDOWN_GRACE_MS)', () => {
    for (const app of APPS) {
      const grace = scalarText(services(compose)[app.name]?.stop_grace_period) || '10s';
      const graceMs = Number(/^(\d+)s$/.exec(grace)?.[1] ?? 0) * 1000;
      expect(graceMs).toBeGreaterThan(Number(appEnv(app.name).SHUTDOWN_GRACE_MS ?? 10_000));
    }
  });

  it('lets every app scale out: no container_name and no fixed host port on NATS workers', () => {
    for (const app of APPS) {
      const service = services(compose)[app.name] ?? {};
      expect(service.container_name).toBeUndefined();
      if (app.name === 'inference' || app.name === 'llm-proxy') expect(service.ports).toBeUndefined();
    }
  });
});

describe('docker-compose.monitoring.yml', () => {
  const overlay = load('docker-compose.monitoring.yml');

  it('is the overlay generated in infrastructure/monitoring', () => {
    expect(raw('docker-compose.monitoring.yml')).toEqual(
      raw('infrastructure/monitoring/docker-compose.monitoring.yml'),
    );
  });

  it('matches the Compose specification schema and layers only onto services that exist', () => {
    expect(composeSchemaProblems(overlay)).toEqual([]);
    for (const [name, service] of Object.entries(services(overlay))) {
      if (service.image === undefined && service.build === undefined)
        expect(Object.keys(services(compose))).toContain(name);
    }
  });

  it('still gives every app an environment its config spec accepts', () => {
    const merged = mergeComposeFiles([compose, overlay]);
    for (const app of APPS) {
      const env = environmentOf((merged.services as Record<string, YamlMap>)[app.name] ?? {});
      const check = checkEnvironment(app.spec, env, extraVariables(app.name));
      expect([app.name, check.ok ? [] : check.problems]).toEqual([app.name, []]);
    }
  });

  it('has Prometheus scrape each app on a port the app listens on', () => {
    const prometheus = parseYaml(
      readRepoFile('infrastructure/monitoring/prometheus/prometheus.yml'),
      'prometheus.yml',
    );
    const targets = (prometheus.scrape_configs as YamlMap[]).flatMap((job) =>
      (job.static_configs as YamlMap[]).flatMap((c) => c.targets as string[]),
    );
    for (const app of APPS) {
      const check = checkEnvironment(app.spec, appEnv(app.name), extraVariables(app.name));
      if (!check.ok) throw new Error(check.problems.join('\n'));
      const config = check.config as Record<string, unknown>;
      const ports = app.listenPortVariables
        .map((v) => config[v])
        .filter((p) => typeof p === 'number' && p > 0);
      const target = targets.find((t) => t.startsWith(`${app.name}:`));
      expect([app.name, ports]).toEqual([app.name, expect.arrayContaining([Number(target?.split(':')[1])])]);
    }
  });
});

describe(interpolate.name, () => {
  it('substitutes defaults, required values and escaped dollars as compose does', () => {
    expect(interpolate('${A:-x}-${B-y}-$C-$$D', { A: '', B: '', C: 'c' })).toBe('x--c-$D');
    expect(() => interpolate('${KEY:?set KEY in .env}', {})).toThrow(
      'required variable KEY is missing: set KEY in .env',
    );
    expect(interpolate('${KEY?unset}', { KEY: '' })).toBe('');
  });
});
