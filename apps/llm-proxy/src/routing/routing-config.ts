import { readFileSync } from 'node:fs';
import { RegattaError, describeIssues } from '@regatta/contracts';
import { z } from 'zod';
import { type PriceTable } from '../cost/price-table.js';

const MockProviderSpec = z.strictObject({
  type: z.literal('mock'),
  /** Delay before the answer (non-streamed) or before the first chunk. */
  latency_ms: z.number().int().nonnegative().default(0),
  /** Delay between streamed chunks. */
  chunk_delay_ms: z.number().int().nonnegative().default(0),
  completion_tokens: z.number().int().positive().default(16),
  chunks: z.number().int().positive().default(4),
  /** Whether the mock reports usage (false exercises the estimation path). */
  usage: z.boolean().default(true),
});

const HttpProviderSpec = z.strictObject({
  type: z.literal('openai'),
  base_url: z.url().optional(),
  /** Variable holding the base URL; wins over `base_url` when set. */
  base_url_env: z.string().optional(),
  /** Variable holding the API key; keys never live in the file. */
  api_key_env: z.string().optional(),
});

const ProviderSpec = z.discriminatedUnion('type', [MockProviderSpec, HttpProviderSpec]);
export type MockProviderSpec = z.infer<typeof MockProviderSpec>;

const TargetSpec = z.strictObject({
  provider: z.string().min(1),
  /** Model name sent upstream (default: the Regatta model name). */
  model: z.string().min(1).optional(),
  /** Share of first attempts among targets of the same priority. */
  weight: z.number().positive().default(1),
  /** Lower priorities are tried first; targets of one priority are ordered by weighted chance. */
  priority: z.number().int().nonnegative().default(0),
});

/** The routing file (`config/routing.json`). */
export const RoutingFile = z.strictObject({
  version: z.string().min(1),
  providers: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), ProviderSpec),
  models: z.record(z.string().min(1), z.array(TargetSpec).min(1)),
  aliases: z.record(z.string().min(1), z.string().min(1)).default({}),
});
export type RoutingFile = z.infer<typeof RoutingFile>;

/** A provider after reading its variables: usable, or unusable with the reason. */
export type ProviderConfig =
  | ({ name: string; type: 'mock' } & Omit<MockProviderSpec, 'type'>)
  | { name: string; type: 'openai'; baseUrl: string; apiKey?: string | undefined }
  | { name: string; type: 'unconfigured'; reason: string };

/** One way to serve a model. */
export interface RouteTarget {
  provider: string;
  upstreamModel: string;
  weight: number;
  priority: number;
}

/** The routing table as the proxy uses it. */
export interface RoutingTable {
  version: string;
  providers: Map<string, ProviderConfig>;
  models: Map<string, RouteTarget[]>;
  aliases: Map<string, string>;
}

const MOCK_MODEL = /^mock-/;

/**
 * Validates a routing file against the price table and the environment. Refuses, naming the entry:
 * an unknown provider, an alias to an unknown model, a model without a price (its calls would be
 * recorded at $0), and a mock target behind a model not named `mock-*` (a real model name must never be
 * answered by the mock).
 */
export function buildRoutingTable(
  file: unknown,
  prices: PriceTable,
  environment: NodeJS.ProcessEnv = process.env,
): RoutingTable {
  const parsed = RoutingFile.safeParse(file);
  if (!parsed.success)
    throw new RegattaError('INVALID_ARGUMENT', `routing table: ${describeIssues(parsed.error)}`);
  const spec = parsed.data;
  const problems: string[] = [];
  const providers = new Map<string, ProviderConfig>();
  for (const [name, p] of Object.entries(spec.providers)) {
    if (p.type === 'mock') {
      const { type: _type, ...rest } = p;
      providers.set(name, { name, type: 'mock', ...rest });
      continue;
    }
    const baseUrl = (p.base_url_env && environment[p.base_url_env]) || p.base_url;
    const apiKey = p.api_key_env ? environment[p.api_key_env] : undefined;
    if (!baseUrl) {
      providers.set(name, { name, type: 'unconfigured', reason: `set ${p.base_url_env ?? 'base_url'}` });
    } else if (p.api_key_env && !apiKey) {
      providers.set(name, { name, type: 'unconfigured', reason: `set ${p.api_key_env}` });
    } else {
      try {
        new URL(baseUrl);
        providers.set(name, { name, type: 'openai', baseUrl: baseUrl.replace(/\/+$/, ''), apiKey });
      } catch {
        problems.push(`provider ${name}: base URL from ${p.base_url_env ?? 'base_url'} is not a URL`);
      }
    }
  }
  const models = new Map<string, RouteTarget[]>();
  for (const [model, targets] of Object.entries(spec.models)) {
    if (!prices.models.has(model))
      problems.push(`model ${model} has no entry in price table ${prices.version}`);
    for (const t of targets) {
      const provider = spec.providers[t.provider];
      if (!provider) problems.push(`model ${model}: unknown provider ${t.provider}`);
      else if (provider.type === 'mock' && !MOCK_MODEL.test(model))
        problems.push(`model ${model}: the mock provider only serves models named mock-*`);
    }
    models.set(
      model,
      targets.map((t) => ({
        provider: t.provider,
        upstreamModel: t.model ?? model,
        weight: t.weight,
        priority: t.priority,
      })),
    );
  }
  const aliases = new Map<string, string>();
  for (const [alias, model] of Object.entries(spec.aliases)) {
    if (!models.has(model)) problems.push(`alias ${alias} points to unknown model ${model}`);
    else if (models.has(alias)) problems.push(`alias ${alias} shadows a model of the same name`);
    else aliases.set(alias, model);
  }
  if (problems.length > 0)
    throw new RegattaError('INVALID_ARGUMENT', `routing table: ${problems.join('; ')}`);
  return { version: spec.version, providers, models, aliases };
}

/** Reads and validates the routing file at `path`. */
export function loadRoutingTable(path: string, prices: PriceTable, environment = process.env): RoutingTable {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `cannot read routing table ${path}: ${(err as Error).message}`,
    );
  }
  return buildRoutingTable(raw, prices, environment);
}

/** The model a request names, after aliases; NOT_FOUND names the models there are. */
export function resolveModel(table: RoutingTable, requested: string): string {
  const model = table.aliases.get(requested) ?? requested;
  if (table.models.has(model)) return model;
  const known = [...table.models.keys(), ...table.aliases.keys()].sort().join(', ');
  throw new RegattaError('NOT_FOUND', `model "${requested}" is not routed by this proxy (known: ${known})`, {
    model: requested,
  });
}
