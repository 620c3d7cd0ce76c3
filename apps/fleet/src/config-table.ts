import { describeEnv, type EnvSpec } from '@regatta/config';
import { featuresEnv } from '@regatta/features';
import { gatewayEnv } from '@regatta/gateway';
import { inferenceEnv } from '@regatta/inference';
import { llmProxyEnv } from '@regatta/llm-proxy';

const SPECS: Record<string, EnvSpec> = {
  gateway: gatewayEnv,
  inference: inferenceEnv,
  features: featuresEnv,
  'llm-proxy': llmProxyEnv,
};

/** The README's configuration table: every variable of every service, its default and meaning. */
export function configTable(): string {
  const rows = new Map<string, { defaults: Map<string, string>; doc: string; services: string[] }>();
  for (const [service, spec] of Object.entries(SPECS)) {
    for (const row of describeEnv(spec)) {
      const seen = rows.get(row.variable) ?? {
        defaults: new Map<string, string>(),
        doc: row.doc,
        services: [] as string[],
      };
      seen.services.push(service);
      seen.defaults.set(service, row.default);
      rows.set(row.variable, seen);
    }
  }
  const escape = (s: string) => s.replace(/\|/g, '\\|');
  const lines = ['| variable | default | services | meaning |', '|---|---|---|---|'];
  for (const [name, r] of rows) {
    const services = r.services.length === Object.keys(SPECS).length ? 'all' : r.services.join(', ');
    const distinct = new Set(r.defaults.values());
    // One default for all its services, or each service's own (e.g. METRICS_PORT).
    const dflt =
      distinct.size === 1 ? [...distinct][0]! : [...r.defaults].map(([svc, d]) => `${d} (${svc})`).join(', ');
    lines.push(`| \`${name}\` | ${escape(dflt)} | ${services} | ${escape(r.doc)} |`);
  }
  return lines.join('\n');
}

export const CONFIG_TABLE_START = '<!-- config-table -->';
export const CONFIG_TABLE_END = '<!-- /config-table -->';
