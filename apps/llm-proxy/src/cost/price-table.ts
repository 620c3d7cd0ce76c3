import { readFileSync } from 'node:fs';
import { type ChatUsage, RegattaError, describeIssues } from '@regatta/contracts';
import { z } from 'zod';

const ModelPrice = z.strictObject({
  /** USD per 1M prompt tokens. */
  input: z.number().nonnegative(),
  /** USD per 1M prompt tokens served from the provider's prompt cache (defaults to `input`). */
  cached_input: z.number().nonnegative().optional(),
  /** USD per 1M completion tokens. */
  output: z.number().nonnegative(),
  /** Most completion tokens the model produces; bounds the worst case reserved against budgets. */
  max_output_tokens: z.number().int().positive().optional(),
});

/** The price file (`config/prices.json`): versioned, in the repository, never downloaded at run time. */
export const PriceFile = z.strictObject({
  version: z.string().min(1),
  currency: z.literal('USD'),
  unit: z.literal('per 1M tokens'),
  source: z.string().optional(),
  models: z.record(z.string().min(1), ModelPrice),
});

export type ModelPrice = z.infer<typeof ModelPrice>;

/** Prices by model, with the table's version (recorded with every cost). */
export interface PriceTable {
  version: string;
  models: Map<string, ModelPrice>;
}

/** Token counts of one call, split the way they are priced. */
export interface TokenCounts {
  prompt: number;
  /** Part of `prompt` read from the provider's prompt cache. */
  cachedPrompt: number;
  completion: number;
}

/** Validates a parsed price file. */
export function buildPriceTable(file: unknown): PriceTable {
  const parsed = PriceFile.safeParse(file);
  if (!parsed.success)
    throw new RegattaError('INVALID_ARGUMENT', `price table: ${describeIssues(parsed.error)}`);
  return { version: parsed.data.version, models: new Map(Object.entries(parsed.data.models)) };
}

/** Reads and validates the price file at `path`. */
export function loadPriceTable(path: string): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new RegattaError('INVALID_ARGUMENT', `cannot read price table ${path}: ${(err as Error).message}`);
  }
  return buildPriceTable(raw);
}

/**
 * Usage as priced token counts. OpenAI's `cached_tokens` are a part of `prompt_tokens`, so they are
 * priced instead of, never in addition to, the same prompt tokens at full price.
 */
export function tokenCounts(usage: ChatUsage): TokenCounts {
  const cached = Math.min(usage.prompt_tokens_details?.cached_tokens ?? 0, usage.prompt_tokens);
  return { prompt: usage.prompt_tokens, cachedPrompt: cached, completion: usage.completion_tokens };
}

/** Cost in USD of `tokens` at `price`. */
export function costUsd(price: ModelPrice, tokens: TokenCounts): number {
  const fresh = tokens.prompt - tokens.cachedPrompt;
  const cachedRate = price.cached_input ?? price.input;
  return (fresh * price.input + tokens.cachedPrompt * cachedRate + tokens.completion * price.output) / 1e6;
}

/** The price of a routed model (boot validation guarantees one exists). */
export function priceOf(table: PriceTable, model: string): ModelPrice {
  const price = table.models.get(model);
  if (!price) throw new RegattaError('INTERNAL', `no price for model ${model}`);
  return price;
}
