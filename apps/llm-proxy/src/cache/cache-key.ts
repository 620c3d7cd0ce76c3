import { createHash } from 'node:crypto';
import { type ChatCompletionRequest } from '@regatta/contracts';

/**
 * Fields that change how an answer travels, not what it says: they never split the cache. `stream`
 * is not among them on purpose — streamed and whole answers are cached apart so each replays exactly
 * as the provider sent it — and is part of the key as the `mode`.
 */
export const TRANSPORT_FIELDS = new Set(['stream', 'stream_options', 'user', 'cache', 'metadata', 'store']);

// Values OpenAI applies when a field is absent; a request spelling out the default is the same request.
const DEFAULTS: Record<string, unknown> = {
  temperature: 1,
  top_p: 1,
  n: 1,
  presence_penalty: 0,
  frequency_penalty: 0,
  logprobs: false,
  parallel_tool_calls: true,
};

/** The request reduced to what determines its answer, in a canonical shape. */
export function normalizeRequest(model: string, body: ChatCompletionRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(body)) {
    if (TRANSPORT_FIELDS.has(field) || field === 'model' || value === undefined || value === null) continue;
    out[field] = value;
  }
  out.model = model;
  // Both spellings of the output limit mean the same thing.
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  delete out.max_tokens;
  delete out.max_completion_tokens;
  if (maxTokens !== undefined && maxTokens !== null) out.max_completion_tokens = maxTokens;
  for (const [field, dflt] of Object.entries(DEFAULTS)) if (out[field] === dflt) delete out[field];
  if (typeof out.stop === 'string') out.stop = [out.stop];
  if (Array.isArray(out.stop) && out.stop.length === 0) delete out.stop;
  if (
    isObject(out.response_format) &&
    out.response_format.type === 'text' &&
    Object.keys(out.response_format).length === 1
  )
    delete out.response_format;
  if (Array.isArray(out.tools) && out.tools.length === 0) delete out.tools;
  out.messages = body.messages.map((m) => normalizeMessage(m as Record<string, unknown>));
  return out;
}

function normalizeMessage(message: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(message)) {
    if (value === undefined || value === null) continue;
    out[field] = value;
  }
  // A content array holding one text part says exactly what the plain string says.
  const content = out.content;
  if (Array.isArray(content) && content.length === 1) {
    const part = content[0] as Record<string, unknown>;
    if (part.type === 'text' && typeof part.text === 'string' && Object.keys(part).length === 2)
      out.content = part.text;
  }
  return out;
}

/** JSON with object keys sorted at every depth, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  // Built by concatenation, without intermediate arrays: this runs on every cacheable request.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      out += `${i > 0 ? ',' : ''}${canonicalJson(v === undefined ? null : v)}`;
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  // The default sort orders by UTF-16 code units, as comparing the keys with < does.
  const keys = Object.keys(record).sort();
  let out = '{';
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** The delivery mode an answer was cached in. */
export type CacheMode = 'json' | 'sse';

/**
 * The cache key of a request: tenant (cached answers are never shared between tenants), then a SHA-256
 * of the mode and the normalised request.
 */
export function cacheKey(tenant: string, mode: CacheMode, normalized: Record<string, unknown>): string {
  const digest = createHash('sha256')
    .update(mode)
    .update('\n')
    .update(canonicalJson(normalized))
    .digest('base64url');
  return `${encodeURIComponent(tenant)}:${digest}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
