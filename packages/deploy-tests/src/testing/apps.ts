import { type EnvSpec } from '@regatta/config';
import { featuresEnv } from '@regatta/features';
import { gatewayEnv } from '@regatta/gateway';
import { inferenceEnv } from '@regatta/inference';
import { llmProxyEnv } from '@regatta/llm-proxy';
import { readRepoFile } from '../repo.js';

/** One deployable app and what its deployment files must agree with. */
export interface AppUnderTest {
  name: 'gateway' | 'inference' | 'features' | 'llm-proxy';
  spec: EnvSpec;
  /** The variable holding the port that serves /health and /ready (and the probes hit). */
  healthPortVariable: 'PORT' | 'METRICS_PORT';
  /** Every variable holding a port the process listens on. */
  listenPortVariables: readonly string[];
  /** Whether the app keeps data in Postgres (and so needs DATABASE_URL through PgBouncer). */
  usesDatabase: boolean;
}

/** The four apps, with the env specs imported from the apps themselves (never copied). */
export const APPS: readonly AppUnderTest[] = [
  {
    name: 'gateway',
    spec: gatewayEnv,
    healthPortVariable: 'PORT',
    listenPortVariables: ['PORT', 'ADMIN_PORT'],
    usesDatabase: true,
  },
  {
    name: 'inference',
    spec: inferenceEnv,
    healthPortVariable: 'METRICS_PORT',
    listenPortVariables: ['METRICS_PORT'],
    usesDatabase: false,
  },
  {
    name: 'features',
    spec: featuresEnv,
    healthPortVariable: 'METRICS_PORT',
    listenPortVariables: ['METRICS_PORT', 'FEAST_HTTP_PORT'],
    usesDatabase: false,
  },
  {
    name: 'llm-proxy',
    spec: llmProxyEnv,
    healthPortVariable: 'METRICS_PORT',
    listenPortVariables: ['METRICS_PORT'],
    usesDatabase: true,
  },
];

/** Variables read outside the app's spec: provider keys and URLs named by the LLM routing table. */
export function extraVariables(app: AppUnderTest['name']): string[] {
  const extra = ['NODE_ENV', 'NODE_OPTIONS'];
  if (app !== 'llm-proxy') return extra;
  const routing = JSON.parse(readRepoFile('apps/llm-proxy/config/routing.json')) as {
    providers?: Record<string, Record<string, unknown>>;
  };
  for (const provider of Object.values(routing.providers ?? {})) {
    for (const [key, value] of Object.entries(provider)) {
      if (key.endsWith('_env') && typeof value === 'string') extra.push(value);
    }
  }
  return extra;
}
